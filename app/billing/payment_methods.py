"""Payment methods: the built-in test cards, attached to and detached from customers."""
from dataclasses import dataclass

from app.billing import events
from app.billing.errors import BillingError, invalid
from app.billing.lookup import get
from app.clock import utcnow
from app.ids import new_id
from app.models.customers import Customer, PaymentMethod


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    behavior: str  # ok | charge_fail | attach_declined | insufficient_funds


TEST_CARDS = {
    "pm_card_visa": TestCard("visa", "4242", "ok"),
    "pm_card_mastercard": TestCard("mastercard", "4444", "ok"),
    "pm_card_amex": TestCard("amex", "8431", "ok"),
    "pm_card_chargeCustomerFail": TestCard("visa", "0341", "charge_fail"),
    "pm_card_chargeDeclined": TestCard("visa", "0002", "attach_declined"),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard("visa", "9995", "insufficient_funds"),
}


async def attach(customer: Customer, payment_method_id: str, param: str = "paymentMethod") -> PaymentMethod:
    """Attach a test card: a fresh copy, as Stripe does. A stored payment method is attached already, or
    was detached, which is permanent in Stripe: neither can be attached (again)."""
    card = TEST_CARDS.get(payment_method_id)
    if card is None:
        pm = await get(PaymentMethod, payment_method_id, param, kind="payment_method")
        if pm.customer_id is None:
            raise invalid("This PaymentMethod was detached from a customer and may not be used again.", param)
        raise invalid("This PaymentMethod is already attached to a customer.", param)
    if card.behavior == "attach_declined":
        raise BillingError("Your card was declined.", type="card_error", code="card_declined",
                           decline_code="generic_decline", param=param)
    pm = await PaymentMethod.create(
        id=new_id("pm"), card_brand=card.brand, card_last4=card.last4, card_exp_month=12,
        card_exp_year=utcnow().year + 3, behavior=card.behavior, customer_id=customer.id,
    )
    await events.record("payment_method.attached", pm)
    return pm


async def attach_to_customer(customer_id: str, payment_method_id: str) -> PaymentMethod:
    customer = await get(Customer, customer_id, "customer", kind="customer", lock=True)
    return await attach(customer, payment_method_id)


async def detach(id: str) -> PaymentMethod:
    pm = await get(PaymentMethod, id, kind="payment_method", lock=True)
    if pm.customer_id is None:
        raise invalid("This PaymentMethod is not attached to a customer.", "id")
    customer = await Customer.filter(id=pm.customer_id).select_for_update().first()
    if customer is not None and customer.default_payment_method_id == pm.id:
        before = events.snapshot(customer)
        customer.default_payment_method_id = None
        await customer.save(update_fields=["default_payment_method_id"])
        await events.record_update("customer.updated", customer, before)
    pm.customer_id = None
    await pm.save(update_fields=["customer_id"])
    await events.record("payment_method.detached", pm)
    return pm
