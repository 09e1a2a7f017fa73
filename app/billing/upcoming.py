"""Stripe's upcoming invoice: what the subscription's next invoice would hold, optionally after a
change. The change is made for real inside a transaction that is then rolled back, so a preview
gives exactly the amounts the same update (with the same proration date) produces, and nothing
is ever stored. A change that invoices at once (ALWAYS_INVOICE, a new billing cycle, the end of a
trial) previews that invoice, as Stripe does; any other previews the next renewal."""
import hashlib

from tortoise.transactions import in_transaction

from app.billing import credit_grants, final_period
from app.billing.errors import BillingError
from app.billing.invoicing import create_invoice, current_lines, pending_items
from app.billing.periods import next_boundary
from app.billing.subscriptions import LIVE, live_items, metered_lines, update_subscription
from app.clock import now_for
from app.ids import new_id
from app.models.customers import Customer
from app.models.invoices import Invoice, InvoiceLineItem
from app.models.subscriptions import Subscription


class _Rollback(Exception):
    pass


async def _subscription(customer: str | None, subscription: str | None) -> Subscription:
    if subscription is not None:
        sub = await Subscription.get_or_none(id=subscription)
        if sub is None or (customer is not None and sub.customer_id != customer):
            raise BillingError(f"No such subscription: '{subscription}'", code="resource_missing",
                               param="subscription")
        return sub
    if customer is None:
        raise BillingError("Pass a customer or a subscription.", code="parameter_missing", param="customer")
    if not await Customer.exists(id=customer):
        raise BillingError(f"No such customer: '{customer}'", code="resource_missing", param="customer")
    subs = await Subscription.filter(customer_id=customer, status__in=LIVE).order_by("current_period_end", "id")
    sub = next((s for s in subs if renews(s)), None)
    if sub is None:
        raise _none("customer")
    return sub


def renews(sub: Subscription) -> bool:
    """Whether the subscription will invoice another period: not when it ends with its current period
    (cancel at period end, a cancelAt no later than the period's end), nor while it is paused or over."""
    if sub.status in ("canceled", "incomplete_expired", "paused") or sub.cancel_at_period_end:
        return False
    return sub.cancel_at is None or sub.cancel_at > sub.current_period_end


def _none(param: str) -> BillingError:
    return BillingError("There is no upcoming invoice to preview: the subscription will not renew "
                        "(canceled, paused, or ending with its current period).", code="invoice_upcoming_none",
                        param=param)


async def _finish(invoice: Invoice, lines: list[InvoiceLineItem]) -> tuple[Invoice, list[InvoiceLineItem]]:
    """Due as finalization would make it: billing credits, then the customer's balance (credit < 0)
    reduce it. A preview is rebuilt on every request, so its line ids derive from the lines themselves:
    a page's cursor stays valid for the next page while the preview is unchanged."""
    await credit_grants.preview(invoice, lines, invoice.created)
    invoice.amount_due = invoice.amount_remaining = max(invoice.total + invoice.starting_balance, 0)
    for position, line in enumerate(lines):
        key = repr((position, line.type, line.amount, line.description, line.price_id, line.quantity,
                    line.proration, line.period_start, line.period_end, line.subscription_item_id))
        line.id = "il_tmp_" + hashlib.sha256(key.encode()).hexdigest()[:24]
    return invoice, lines


async def next_invoice(sub: Subscription) -> tuple[Invoice, list[InvoiceLineItem]]:
    """The invoice the subscription's next renewal would create, unsaved (its final period cut short
    by cancel_at, as the renewal bills it)."""
    if not renews(sub):
        raise _none("subscription")
    customer = await Customer.get(id=sub.customer_id)
    start = sub.current_period_end
    anchor = sub.trial_end if sub.status == "trialing" and sub.trial_end == start else sub.billing_cycle_anchor
    end = next_boundary(anchor, sub.interval, sub.interval_count, start)
    items = await live_items(sub)
    specs = [*await final_period.lines(sub, items, start, end),
             *await metered_lines(sub, items, sub.current_period_start, start)]
    invoice, lines = await create_invoice(
        customer, now=start, billing_reason="upcoming", specs=specs, currency=sub.currency,
        period_start=sub.current_period_start, period_end=start, subscription=sub,
        collection_method=sub.collection_method, days_until_due=sub.days_until_due, auto_advance=False,
        pending=await pending_items(customer.id, subscription_id=sub.id), save=False,
    )
    return await _finish(invoice, lines)


async def _as_preview(invoice: Invoice) -> tuple[Invoice, list[InvoiceLineItem]]:
    """An invoice made inside the rolled-back change, detached as an unsaved preview."""
    lines = await current_lines(invoice)
    invoice.id, invoice.billing_reason = new_id("upcoming"), "upcoming"
    for line in lines:
        line.invoice_id = invoice.id
    return await _finish(invoice, lines)


async def upcoming_invoice(*, customer: str | None = None, subscription: str | None = None,
                           details: dict | None = None) -> tuple[Invoice, list[InvoiceLineItem]]:
    sub = await _subscription(customer, subscription)
    if not details:
        return await next_invoice(sub)
    now = await now_for(await Customer.get(id=sub.customer_id))
    preview = None
    try:
        async with in_transaction():
            updated = await update_subscription(sub.id, dict(details), now, preview=True)
            if updated.latest_invoice_id != sub.latest_invoice_id:
                preview = await _as_preview(await Invoice.get(id=updated.latest_invoice_id))
            else:
                preview = await next_invoice(updated)
            raise _Rollback
    except _Rollback:
        pass
    return preview
