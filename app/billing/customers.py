"""Customers: create, update, soft delete, and their balance."""
import re
import secrets
import string

from tortoise.exceptions import IntegrityError

from app.billing import discounts, draft_balance, events, payment_methods, validation
from app.billing.errors import invalid
from app.billing.lookup import get
from app.billing.subscriptions import cancel_for_customer
from app.clock import now_for
from app.ids import new_id
from app.models.clocks import TestClock
from app.models.customers import Customer, CustomerBalanceTransaction, PaymentMethod

_PREFIX = re.compile(r"^[A-Z0-9]{3,12}$")


def _random_prefix() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8))


def _prefix(prefix: str | None) -> str:
    if prefix is None:
        return _random_prefix()
    if not _PREFIX.match(prefix):
        raise invalid("invoicePrefix must be 3 to 12 uppercase letters or digits.", "invoicePrefix")
    return prefix


def _contact_fields(values: dict) -> dict:
    limits = {"email": ("email", 512), "name": ("name", 256), "description": ("description", 350),
              "phone": ("phone", 32)}
    return {key: validation.string(values[key], param, max_length=limit)
            for key, (param, limit) in limits.items() if key in values}


async def create_customer(*, email=None, name=None, description=None, phone=None, metadata=None,
                          payment_method=None, test_clock=None, invoice_prefix=None, coupon=None,
                          balance=None) -> Customer:
    contact = _contact_fields({"email": email, "name": name, "description": description, "phone": phone})
    if balance is not None and abs(balance) > validation.MAX_AMOUNT:
        raise invalid(f"balance must be at most {validation.MAX_AMOUNT} in absolute value.", "balance")
    clock = await get(TestClock, test_clock, "testClock", kind="test_helpers.test_clock") if test_clock else None
    customer = Customer(
        id=new_id("cus", 14), metadata=validation.new_metadata(metadata), invoice_prefix=_prefix(invoice_prefix),
        test_clock_id=clock.id if clock else None, balance=balance or 0, **contact,
    )
    now = clock.frozen_time if clock else await now_for(None)
    customer.created = now
    if invoice_prefix is not None and await Customer.filter(invoice_prefix=invoice_prefix).exists():
        raise _prefix_taken()
    try:
        await customer.save(force_create=True)
    except IntegrityError:
        raise _prefix_taken() from None
    if balance:
        await CustomerBalanceTransaction.create(
            id=new_id("cbtxn"), customer_id=customer.id, amount=balance, currency=customer.currency or "usd",
            ending_balance=balance, type="initial", created=now,
        )
    if payment_method is not None:
        pm = await payment_methods.attach(customer, payment_method)
        customer.default_payment_method_id = pm.id
        await customer.save(update_fields=["default_payment_method_id"])
    await events.record("customer.created", customer, created=now)
    if coupon is not None:
        await discounts.apply_coupon(customer, coupon, now)
    return customer


def _prefix_taken():
    return invalid("That invoicePrefix is already used by another customer.", "invoicePrefix")


async def _default_payment_method(customer: Customer, pm_id: str | None) -> str | None:
    """pm_id, once checked to be one of the customer's payment methods (None unsets the default)."""
    if pm_id is not None:
        pm = await get(PaymentMethod, pm_id, "defaultPaymentMethod", kind="payment_method")
        if pm.customer_id != customer.id:
            raise invalid(f"PaymentMethod '{pm_id}' is not attached to this customer.", "defaultPaymentMethod")
    return pm_id


async def update_customer(id: str, changes: dict) -> Customer:
    customer = await get(Customer, id, kind="customer", lock=True)
    now = await now_for(customer)
    before = events.snapshot(customer)
    for key, value in _contact_fields(changes).items():
        setattr(customer, key, value)
    if "metadata" in changes:
        customer.metadata = validation.merge_metadata(customer.metadata, changes["metadata"])
    if "default_payment_method" in changes:
        customer.default_payment_method_id = await _default_payment_method(customer, changes["default_payment_method"])
    await customer.save()
    await events.record_update("customer.updated", customer, before, created=now)
    if "coupon" in changes:
        if changes["coupon"] is None:
            await discounts.end_customer_discount(customer, now)
        else:
            await discounts.apply_coupon(customer, changes["coupon"], now)
    return customer


async def delete_customer(id: str) -> Customer:
    """Soft delete: the customer stays resolvable from its invoices and events with deleted: true."""
    customer = await get(Customer, id, kind="customer", lock=True)
    now = await now_for(customer)
    customer.deleted = True
    await customer.save(update_fields=["deleted"])
    await cancel_for_customer(customer.id, now)
    await discounts.end_customer_discount(customer, now)
    await events.record("customer.deleted", customer, created=now)
    return customer


async def create_balance_transaction(*, customer: str, amount: int, currency: str,
                                     description: str | None = None) -> CustomerBalanceTransaction:
    """Adjust the balance (negative is credit). The customer row is locked, so concurrent adjustments add up."""
    owner = await get(Customer, customer, "customer", kind="customer", lock=True)
    currency = validation.currency(currency)
    if amount == 0:
        raise invalid("amount cannot be 0.", "amount")
    if abs(amount) > validation.MAX_AMOUNT or abs(owner.balance + amount) > validation.MAX_AMOUNT:
        raise invalid(f"amount and the balance must be at most {validation.MAX_AMOUNT} in absolute value.", "amount")
    if owner.currency is not None and owner.currency != currency:
        raise invalid(f"This customer's balance is in '{owner.currency}'; the currency must match.", "currency")
    now = await now_for(owner)
    before = events.snapshot(owner)
    owner.currency = currency
    owner.balance += amount
    await owner.save(update_fields=["currency", "balance"])
    transaction = await CustomerBalanceTransaction.create(
        id=new_id("cbtxn"), customer_id=owner.id, amount=amount, currency=currency,
        description=validation.string(description, "description", max_length=350),
        ending_balance=owner.balance, type="adjustment", created=now,
    )
    await draft_balance.refresh(owner.id)
    await events.record_update("customer.updated", owner, before, created=now)
    return transaction
