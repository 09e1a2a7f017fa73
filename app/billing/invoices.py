"""Invoices and invoice items as the API changes them: manual invoices, line edits on drafts, and the
transitions (finalize, pay, void, mark uncollectible, delete)."""
from datetime import datetime

from app.billing import discounts, draft_balance, events, invoicing, late_usage, validation
from app.billing.errors import BillingError, invalid, missing_param
from app.billing.invoicing import LineSpec, item_line
from app.billing.payment_methods import TEST_CARDS, attach
from app.billing.payments import collect
from app.billing.pricing import amount_for
from app.clock import now_for
from app.ids import new_id
from app.models.catalog import Price
from app.models.coupons import Discount
from app.models.customers import Customer, PaymentMethod
from app.models.invoices import Invoice, InvoiceItem, InvoiceLineItem
from app.models.subscriptions import Subscription


async def _customer(id: str, param: str = "customer") -> Customer:
    customer = await Customer.get_or_none(id=id)
    if customer is None or customer.deleted:
        raise BillingError(f"No such customer: '{id}'", code="resource_missing", param=param)
    return customer


async def locked_invoice(id: str) -> Invoice:
    invoice = await Invoice.filter(id=id, deleted=False).select_for_update().first()
    if invoice is None:
        raise BillingError(f"No such invoice: '{id}'", code="resource_missing", param="id")
    return invoice


async def _now(invoice: Invoice) -> datetime:
    return await now_for(await Customer.get(id=invoice.customer_id))


def _collection(method: str | None, days_until_due: int | None) -> tuple[str, int | None]:
    method = method or "charge_automatically"
    if method == "send_invoice" and days_until_due is None:
        days_until_due = 30
    if days_until_due is not None and not 0 <= days_until_due <= 365:
        raise invalid("daysUntilDue must be between 0 and 365.", "daysUntilDue")
    return method, days_until_due


async def refresh(invoice: Invoice, now: datetime) -> None:
    """Recompute a draft's totals from its lines."""
    await draft_balance.reread(invoice)
    await invoicing.replace_lines(invoice, await invoicing.current_lines(invoice), now)


async def create_manual_invoice(*, customer: str, subscription=None, auto_advance=None, collection_method=None,
                                days_until_due=None, description=None, pending_invoice_items_behavior=None,
                                coupon=None, metadata=None) -> Invoice:
    owner = await _customer(customer)
    now = await now_for(owner)
    sub = None
    if subscription is not None:
        sub = await Subscription.get_or_none(id=subscription, customer_id=owner.id)
        if sub is None:
            raise BillingError(f"No such subscription for this customer: '{subscription}'",
                               code="resource_missing", param="subscription")
    method, days = _collection(collection_method, days_until_due)
    pending = []
    if (pending_invoice_items_behavior or "exclude") == "include":
        # Stripe: with a subscription, only pending items for that subscription (and the customer's general ones).
        pending = await invoicing.pending_items(owner.id, subscription_id=sub.id if sub else None,
                                                everything=sub is None)
    currency = (sub.currency if sub else None) or owner.currency or (pending[0].currency if pending else "usd")
    invoice, _ = await invoicing.create_invoice(
        owner, now=now, billing_reason="manual", specs=[], currency=currency, period_start=now, period_end=now,
        subscription=sub, collection_method=method, days_until_due=days,
        description=validation.string(description, "description", max_length=1500),
        auto_advance=bool(auto_advance), pending=[p for p in pending if p.currency == currency],
        metadata=validation.new_metadata(metadata),
    )
    if coupon is not None:
        invoice.discount_ids = [(await _invoice_discount(owner, invoice, coupon, now)).id]
        await refresh(invoice, now)
    return invoice


async def _invoice_discount(customer: Customer, invoice: Invoice, coupon_id: str, now: datetime) -> Discount:
    coupon = await discounts.redeem(coupon_id, now, "coupon", currency=invoice.currency)
    return await Discount.create(id=new_id("di"), coupon_id=coupon.id, customer_id=customer.id,
                                 invoice_id=invoice.id, start=now, created=now)


async def update_invoice(id: str, changes: dict) -> Invoice:
    invoice = await locked_invoice(id)
    now = await _now(invoice)
    before = events.snapshot(invoice)
    if set(changes) - {"auto_advance", "metadata"}:
        invoicing.require_draft(invoice)
    if "auto_advance" in changes:
        _set_auto_advance(invoice, bool(changes["auto_advance"]), now)
    if "metadata" in changes:
        invoice.metadata = validation.merge_metadata(invoice.metadata, changes["metadata"])
    if "description" in changes:
        invoice.description = validation.string(changes["description"], "description", max_length=1500)
    if "collection_method" in changes or "days_until_due" in changes:
        invoice.collection_method, invoice.days_until_due = _collection(
            changes.get("collection_method") or invoice.collection_method,
            changes.get("days_until_due", invoice.days_until_due))
    if "due_date" in changes:
        invoice.due_date = validation.future(changes["due_date"], now, "dueDate")
    await invoice.save()
    await events.record_update("invoice.updated", invoice, before, created=now)
    return invoice


def _set_auto_advance(invoice: Invoice, on: bool, now: datetime) -> None:
    """Stripe's auto_advance on a draft or open invoice. Off: no automatic finalization or collection.
    On: a draft finalizes an hour after its creation (at once if that is past); an open
    charge_automatically invoice whose collection had stopped (canceled or paused subscription,
    auto_advance off) is charged again now by the worker, then retried on the usual schedule."""
    if invoice.status not in ("draft", "open"):
        raise invalid(f"This invoice is {invoice.status}: automatic collection is always off.", "autoAdvance")
    invoice.auto_advance = on
    if invoice.status == "draft":
        invoice.automatically_finalizes_at = max(invoice.created + invoicing.AUTO_FINALIZE_AFTER, now) if on else None
    elif not on:
        invoice.next_payment_attempt = None
    elif (invoice.collection_method == "charge_automatically" and invoice.next_payment_attempt is None
          and invoice.amount_remaining > 0):
        invoice.next_payment_attempt = now


async def _item_amount(price: Price | None, amount, unit_amount_decimal, quantity, currency,
                       param: str = "") -> tuple[int, str, int]:
    quantity = 1 if quantity is None else quantity
    if quantity < 0:
        raise invalid("quantity must be at least 0.", f"{param}quantity")
    if price is not None:
        if amount is not None or unit_amount_decimal is not None:
            raise invalid("Pass either a price or an amount, not both.", f"{param}amount")
        return amount_for(price, quantity), price.currency, quantity
    if currency is None:
        raise missing_param(f"{param}currency", "An invoice item without a price needs a currency.")
    currency = validation.currency(currency, f"{param}currency")
    if unit_amount_decimal is not None:
        if amount is not None:
            raise invalid("Pass only one of amount or unitAmountDecimal.", f"{param}unitAmountDecimal")
        from app.billing.pricing import round_amount

        unit = validation.decimal_amount(unit_amount_decimal, f"{param}unitAmountDecimal")
        return round_amount(unit * quantity), currency, quantity
    if amount is None:
        raise missing_param(f"{param}amount", "An invoice item needs a price, an amount or unitAmountDecimal.")
    return _signed_amount(amount, f"{param}amount"), currency, quantity


def _signed_amount(amount: int, param: str) -> int:
    """An invoice item's amount: a charge or (negative) a credit, within bounds."""
    if abs(amount) > validation.MAX_AMOUNT:
        raise invalid(f"amount must be at most {validation.MAX_AMOUNT} in absolute value.", param)
    return amount


def _discountable(given: bool | None, amount: int) -> bool:
    """Stripe's default: coupons apply to charges, not to credits (negative items), unless told so."""
    return amount >= 0 if given is None else given


def _period(period: dict | None, now: datetime, param: str = "period") -> tuple[datetime, datetime]:
    if period is None:
        return now, now
    if period["end"] < period["start"]:
        raise invalid("period.end must not be before period.start.", f"{param}.end")
    return period["start"].replace(microsecond=0), period["end"].replace(microsecond=0)


async def create_invoice_item(*, customer: str, invoice=None, subscription=None, price=None, amount=None,
                              unit_amount_decimal=None, quantity=None, currency=None, description=None,
                              discountable=None, period=None, metadata=None) -> InvoiceItem:
    owner = await _customer(customer)
    now = await now_for(owner)
    price_obj = None
    if price is not None:
        price_obj = await Price.get_or_none(id=price)
        if price_obj is None:
            raise BillingError(f"No such price: '{price}'", code="resource_missing", param="price")
    total, currency, quantity = await _item_amount(price_obj, amount, unit_amount_decimal, quantity, currency)
    target = None
    if invoice is not None:
        target = await locked_invoice(invoice)
        if target.customer_id != owner.id:
            raise invalid("That invoice belongs to another customer.", "invoice")
        invoicing.require_draft(target)
        if target.currency != currency:
            raise invalid(f"The invoice is in {target.currency}; the item is in {currency}.", "currency")
    if subscription is not None and not await Subscription.exists(id=subscription, customer_id=owner.id):
        raise BillingError(f"No such subscription: '{subscription}'", code="resource_missing", param="subscription")
    start, end = _period(period, now)
    item = await InvoiceItem.create(
        id=new_id("ii"), customer_id=owner.id, invoice_id=target.id if target else None, subscription_id=subscription,
        price_id=price_obj.id if price_obj else None, amount=total, currency=currency, quantity=quantity,
        unit_amount_decimal=validation.decimal_amount(unit_amount_decimal, "unitAmountDecimal"),
        description=validation.string(description, "description", max_length=1500),
        discountable=_discountable(discountable, total), period_start=start, period_end=end,
        metadata=validation.new_metadata(metadata), created=now,
    )
    if target is not None:
        await _append_lines(target, [item_line(item)], now)
    await events.record("invoiceitem.created", item, created=now)
    return item


async def _append_lines(invoice: Invoice, specs: list[LineSpec], now: datetime) -> None:
    lines = await invoicing.current_lines(invoice)
    for spec in specs:
        lines.append(InvoiceLineItem(
            id=new_id("il"), invoice_id=invoice.id, type=spec.type, amount=spec.amount, currency=spec.currency,
            description=spec.description, discountable=spec.discountable, period_start=spec.period_start,
            period_end=spec.period_end, price_id=spec.price_id, proration=spec.proration, quantity=spec.quantity,
            unit_amount_excluding_tax=spec.unit_amount_excluding_tax, subscription_id=spec.subscription_id,
            subscription_item_id=spec.subscription_item_id, invoice_item_id=spec.invoice_item_id,
            metadata=spec.metadata, discount_amounts=list(spec.discount_amounts), created=now,
        ))
    await draft_balance.reread(invoice)
    await invoicing.replace_lines(invoice, lines, now)


async def delete_invoice_item(id: str) -> InvoiceItem:
    item = await InvoiceItem.filter(id=id, deleted=False).select_for_update().first()
    if item is None:
        raise BillingError(f"No such invoice item: '{id}'", code="resource_missing", param="id")
    now = await now_for(await Customer.get(id=item.customer_id))
    if item.invoice_id is not None:
        invoice = await locked_invoice(item.invoice_id)
        invoicing.require_draft(invoice)
        await InvoiceLineItem.filter(invoice_id=invoice.id, invoice_item_id=item.id).delete()
        await refresh(invoice, now)
    item.deleted = True
    await item.save(update_fields=["deleted"])
    await events.record("invoiceitem.deleted", item, created=now)
    return item


async def _metadata(invoice: Invoice, metadata) -> None:
    if metadata is not None:
        invoice.metadata = validation.merge_metadata(invoice.metadata, metadata, "invoiceMetadata")


async def add_lines(id: str, lines: list[dict], invoice_metadata=None) -> Invoice:
    """Add lines to a draft: a pending invoice item moved onto it, or a new one-off item."""
    invoice = await locked_invoice(id)
    invoicing.require_draft(invoice)
    now = await _now(invoice)
    before = events.snapshot(invoice)
    specs = []
    for i, line in enumerate(lines):
        param = f"lines.{i}."
        if line.get("invoice_item"):
            item = await InvoiceItem.filter(id=line["invoice_item"], deleted=False).select_for_update().first()
            if item is None or item.customer_id != invoice.customer_id:
                raise BillingError(f"No such invoice item: '{line['invoice_item']}'", code="resource_missing",
                                   param=f"{param}invoiceItem")
            if item.invoice_id is not None:
                raise invalid("That invoice item is already on an invoice.", f"{param}invoiceItem")
            if item.currency != invoice.currency:
                raise invalid(f"The invoice is in {invoice.currency}; the item in {item.currency}.",
                              f"{param}invoiceItem")
        else:
            price = None
            if line.get("price"):
                price = await Price.get_or_none(id=line["price"])
                if price is None:
                    raise BillingError(f"No such price: '{line['price']}'", code="resource_missing",
                                       param=f"{param}price")
            amount, currency, quantity = await _item_amount(price, line.get("amount"), None, line.get("quantity"),
                                                            invoice.currency, param)
            if currency != invoice.currency:
                raise invalid(f"The invoice is in {invoice.currency}.", f"{param}price")
            start, end = _period(line.get("period"), now, f"{param}period")
            item = await InvoiceItem.create(
                id=new_id("ii"), customer_id=invoice.customer_id, price_id=price.id if price else None, amount=amount,
                currency=currency, quantity=quantity,
                description=validation.string(line.get("description"), f"{param}description", max_length=1500),
                discountable=_discountable(line.get("discountable"), amount), period_start=start, period_end=end,
                metadata=validation.new_metadata(line.get("metadata"), f"{param}metadata"), created=now,
            )
            await events.record("invoiceitem.created", item, created=now)
        item.invoice_id = invoice.id
        await item.save(update_fields=["invoice_id"])
        specs.append(item_line(item))
    await _metadata(invoice, invoice_metadata)
    await _append_lines(invoice, specs, now)
    await events.record_update("invoice.updated", invoice, before, created=now)
    return invoice


async def _line_of(invoice: Invoice, line_id: str, param: str) -> InvoiceLineItem:
    line = await InvoiceLineItem.get_or_none(id=line_id, invoice_id=invoice.id)
    if line is None:
        raise BillingError(f"No such line on this invoice: '{line_id}'", code="resource_missing", param=param)
    return line


async def remove_lines(id: str, lines: list[dict], invoice_metadata=None) -> Invoice:
    """DELETE removes a line (and deletes its invoice item); UNASSIGN returns the item to pending."""
    invoice = await locked_invoice(id)
    invoicing.require_draft(invoice)
    now = await _now(invoice)
    before = events.snapshot(invoice)
    for i, removal in enumerate(lines):
        line = await _line_of(invoice, removal["id"], f"lines.{i}.id")
        if removal["behavior"] == "unassign":
            if line.invoice_item_id is None:
                raise invalid("Only invoice item lines can be unassigned.", f"lines.{i}.behavior")
            await InvoiceItem.filter(id=line.invoice_item_id).update(invoice_id=None)
        elif line.invoice_item_id is not None:
            item = await InvoiceItem.get(id=line.invoice_item_id)
            item.deleted, item.invoice_id = True, None
            await item.save(update_fields=["deleted", "invoice_id"])
            await events.record("invoiceitem.deleted", item, created=now)
        await line.delete()
    await _metadata(invoice, invoice_metadata)
    await refresh(invoice, now)
    await events.record_update("invoice.updated", invoice, before, created=now)
    return invoice


async def update_lines(id: str, lines: list[dict], invoice_metadata=None) -> Invoice:
    invoice = await locked_invoice(id)
    invoicing.require_draft(invoice)
    now = await _now(invoice)
    before = events.snapshot(invoice)
    for i, change in enumerate(lines):
        param = f"lines.{i}."
        line = await _line_of(invoice, change["id"], f"{param}id")
        if "quantity" in change and change["quantity"] is not None:
            if change["quantity"] < 0:
                raise invalid("quantity must be at least 0.", f"{param}quantity")
            line.quantity = change["quantity"]
            if line.price_id and "amount" not in change:
                line.amount = amount_for(await Price.get(id=line.price_id), line.quantity)
        if change.get("amount") is not None:
            line.amount = _signed_amount(change["amount"], f"{param}amount")
        if "description" in change:
            line.description = validation.string(change["description"], f"{param}description", max_length=1500)
        if change.get("discountable") is not None:
            line.discountable = change["discountable"]
        if change.get("period") is not None:
            line.period_start, line.period_end = _period(change["period"], now, f"{param}period")
        if "metadata" in change:
            line.metadata = validation.merge_metadata(line.metadata, change["metadata"], f"{param}metadata")
        await line.save()
        if line.invoice_item_id:
            await InvoiceItem.filter(id=line.invoice_item_id).update(
                amount=line.amount, quantity=line.quantity or 1, description=line.description,
                discountable=line.discountable, period_start=line.period_start, period_end=line.period_end)
    await _metadata(invoice, invoice_metadata)
    await refresh(invoice, now)
    await events.record_update("invoice.updated", invoice, before, created=now)
    return invoice


async def finalize_invoice(id: str, auto_advance: bool | None = None) -> Invoice:
    invoice = await locked_invoice(id)
    now = await _now(invoice)
    if auto_advance is not None:
        invoice.auto_advance = auto_advance
    await late_usage.refresh([invoice])
    await invoicing.finalize(invoice, now)
    if invoice.status == "open" and invoice.auto_advance and invoice.collection_method == "charge_automatically":
        invoice.next_payment_attempt = now
        await invoice.save(update_fields=["next_payment_attempt", "auto_advance"])
    return invoice


async def pay_invoice(id: str, *, payment_method: str | None = None,
                      paid_out_of_band: bool | None = None) -> tuple[Invoice, BillingError | None]:
    """Pay an open (or uncollectible) invoice now: with a payment method, or marked paid out of band.
    A declined charge is recorded and returned as the error to report once the record has committed."""
    invoice = await locked_invoice(id)
    now = await _now(invoice)
    if invoice.status not in ("open", "uncollectible"):
        raise invalid(f"This invoice is {invoice.status}; only open or uncollectible invoices can be paid.", "id")
    if paid_out_of_band:
        if payment_method is not None:
            raise invalid("Pass either paymentMethod or paidOutOfBand.", "paidOutOfBand")
        await invoicing.mark_paid(invoice, now, out_of_band=True)
        from app.billing.subscription_status import after_payment

        await after_payment(invoice, True, now)
        return invoice, None
    pm_id = None
    if payment_method is not None:
        pm_id = await _own_payment_method(invoice, payment_method)
    if await collect(invoice, now, payment_method_id=pm_id, automatic=False):
        return invoice, None
    from app.models.invoices import PaymentIntent

    error = (await PaymentIntent.get(id=invoice.payment_intent_id)).last_payment_error
    return invoice, BillingError(error["message"], type="card_error", code=error["code"] or "card_declined",
                                 decline_code=error.get("decline_code"), param="paymentMethod")


async def _own_payment_method(invoice: Invoice, payment_method: str) -> str:
    customer = await Customer.get(id=invoice.customer_id)
    if payment_method in TEST_CARDS:
        return (await attach(customer, payment_method)).id
    pm = await PaymentMethod.get_or_none(id=payment_method)
    if pm is None:
        raise BillingError(f"No such PaymentMethod: '{payment_method}'", code="resource_missing",
                           param="paymentMethod")
    if pm.customer_id is None:
        return (await attach(customer, pm.id)).id
    if pm.customer_id != customer.id:
        raise invalid("That PaymentMethod belongs to another customer.", "paymentMethod")
    return pm.id


async def void_invoice(id: str) -> Invoice:
    invoice = await locked_invoice(id)
    return await invoicing.void(invoice, await _now(invoice))


async def mark_invoice_uncollectible(id: str) -> Invoice:
    invoice = await locked_invoice(id)
    return await invoicing.mark_uncollectible(invoice, await _now(invoice))


async def delete_invoice(id: str) -> Invoice:
    invoice = await locked_invoice(id)
    return await invoicing.delete_draft(invoice, await _now(invoice))
