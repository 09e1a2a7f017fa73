"""Usage records (Stripe's legacy usage reporting) for metered prices without a meter.

A record reports `quantity` for a subscription item at a timestamp inside the subscription's current
period and not in the future. INCREMENT adds it to the usage at that timestamp; SET replaces the
usage at that timestamp (Stripe: "the set action will overwrite the usage quantity at that
timestamp"). The price's aggregate_usage turns the usage at each timestamp of a period into the
period's total: SUM (default) adds them up, MAX takes the largest, LAST_DURING_PERIOD the one at the
latest timestamp of the period, LAST_EVER the one at the latest timestamp before the period's end,
even from an earlier period. Usage is billed in arrears, never prorated, and not during a trial.
"""
from dataclasses import dataclass
from datetime import datetime

from tortoise.functions import Max, Sum

from app.billing import catalog_reads, lookup
from app.billing.errors import invalid
from app.billing.invoicing import LineSpec
from app.billing.pricing import amount_for, unit_amount_of
from app.billing.validation import MAX_AMOUNT
from app.clock import now_for
from app.ids import new_id
from app.models.catalog import Price
from app.models.customers import Customer
from app.models.invoices import InvoiceLineItem
from app.models.subscriptions import Subscription, SubscriptionItem
from app.models.usage_records import UsageRecord, UsageTotal

ACTIONS = ("increment", "set")
ENDED = ("canceled", "incomplete_expired")


def takes_usage_records(price: Price) -> bool:
    """Metered prices without a meter; a meter's price is fed by meter events instead."""
    return price.recurring_usage_type == "metered" and not price.recurring_meter_id


async def create_usage_record(*, subscription_item: str, quantity: int, action: str | None = None,
                              timestamp: datetime | None = None) -> UsageRecord:
    """Record usage. The item's row lock orders concurrent records of one item, so an INCREMENT and
    a SET at the same timestamp never lose each other; the unique (item, timestamp) is the last word."""
    item = await lookup.get(SubscriptionItem, subscription_item, "subscriptionItem", kind="subscription item",
                            lock=True)
    price = await Price.get(id=item.price_id)
    if not takes_usage_records(price):
        reason = "has a meter: report meter events" if price.recurring_meter_id else "is not metered"
        raise invalid(f"Usage records need a metered price; this item's price {reason}.", "subscriptionItem")
    sub = await Subscription.get(id=item.subscription_id)
    if sub.status in ENDED:
        raise invalid(f"This subscription is {sub.status}: it takes no more usage.", "subscriptionItem")
    if quantity < 0:
        raise invalid("quantity must be at least 0.", "quantity")
    if quantity > MAX_AMOUNT:
        raise invalid(f"quantity must be at most {MAX_AMOUNT}.", "quantity")
    action = action or "increment"
    if action not in ACTIONS:
        raise invalid("action must be INCREMENT or SET.", "action")
    now = await now_for(await Customer.get(id=sub.customer_id))
    at = (timestamp or now).replace(microsecond=0)
    if at > now:
        raise invalid("The usage record's timestamp cannot be in the future.", "timestamp")
    if not sub.current_period_start <= at < sub.current_period_end:
        raise invalid("The usage record's timestamp must be within the subscription's current period "
                      f"({sub.current_period_start.isoformat()} to {sub.current_period_end.isoformat()}).",
                      "timestamp")
    total = await UsageTotal.filter(subscription_item_id=item.id, timestamp=at).select_for_update().first()
    if total is None:
        await UsageTotal.create(subscription_item_id=item.id, timestamp=at, quantity=quantity)
    else:
        total.quantity = quantity if action == "set" else total.quantity + quantity
        if total.quantity > MAX_AMOUNT:
            raise invalid(f"The usage at this timestamp would exceed {MAX_AMOUNT}.", "quantity")
        await total.save(update_fields=["quantity"])
    return await UsageRecord.create(id=new_id("mbur"), subscription_item_id=item.id, quantity=quantity,
                                    action=action, timestamp=at, created=now)


async def clear_for_removal(sub: Subscription, item: SubscriptionItem, price: Price, clear: bool,
                            param: str) -> None:
    """As Stripe, an item with usage in the current period is removed only with clear_usage, which drops
    that usage (it would never be billed otherwise)."""
    if not takes_usage_records(price):
        return
    current = UsageTotal.filter(subscription_item_id=item.id, timestamp__gte=sub.current_period_start)
    if not clear:
        if await current.exists():
            raise invalid("This item has usage in the current period: pass clearUsage to remove it with its "
                          "usage, or remove it once the period has been billed.", param)
        return
    await current.delete()


async def aggregate(item_id: str, aggregate_usage: str | None, start: datetime, end: datetime) -> int:
    """The item's usage over [start, end) by the price's aggregate_usage (SUM when unset)."""
    rows = UsageTotal.filter(subscription_item_id=item_id, timestamp__lt=end)
    how = aggregate_usage or "sum"
    if how == "last_ever":
        last = await rows.order_by("-timestamp").first()
        return last.quantity if last else 0
    rows = rows.filter(timestamp__gte=start)
    if how == "last_during_period":
        last = await rows.order_by("-timestamp").first()
        return last.quantity if last else 0
    function = Max if how == "max" else Sum
    [value] = await rows.annotate(value=function("quantity")).values_list("value", flat=True)
    return int(value or 0)


def _billable_start(sub: Subscription, start: datetime, end: datetime) -> datetime:
    """Where billable usage begins in [start, end): usage during a trial is not billed."""
    if sub.trial_end is not None and start < sub.trial_end and (sub.trial_start or start) < end:
        return max(start, min(sub.trial_end, end))
    return start


async def record_lines(sub: Subscription, items: list[SubscriptionItem], start: datetime,
                       end: datetime) -> list[LineSpec]:
    """One line per item priced by usage records: the usage of [start, end), billed in arrears and
    priced as a whole (transform_quantity, tiers or the decimal unit amount apply to the total)."""
    lines = []
    for item in items:
        price = await catalog_reads.price(item.price_id)
        if not takes_usage_records(price):
            continue
        name = await catalog_reads.product_name(price.product_id)
        billable_from = _billable_start(sub, start, end)
        trial = billable_from >= end
        quantity = await aggregate(item.id, price.recurring_aggregate_usage, start if trial else billable_from, end)
        lines.append(LineSpec(
            amount=0 if trial else amount_for(price, quantity), currency=sub.currency, period_start=start,
            period_end=end, description=f"{quantity} × {name}" + (" (Trial period)" if trial else ""),
            price_id=price.id, quantity=quantity,
            unit_amount_excluding_tax=None if price.billing_scheme == "tiered" else unit_amount_of(price),
            subscription_id=sub.id, subscription_item_id=item.id,
        ))
    return lines


@dataclass
class UsageRecordSummary:
    """Stripe's usage_record_summary: an item's total usage in one billing period."""

    id: str
    subscription_item_id: str
    period_start: datetime
    period_end: datetime
    invoice_id: str | None
    aggregate_usage: str | None
    total_usage: int | None = None

    @property
    def created(self) -> datetime:
        """The period's start: summaries list newest period first, keyed by it."""
        return self.period_start


def _summary_id(item_id: str, start: datetime) -> str:
    return f"sis_{item_id.removeprefix('si_')}{int(start.timestamp()):x}"


async def summary_periods(item: SubscriptionItem) -> list[UsageRecordSummary]:
    """The item's billing periods, newest first, totals not yet read: every period an invoice billed,
    then the current one (no invoice yet)."""
    price = await Price.get(id=item.price_id)
    if not takes_usage_records(price):
        return []
    sub = await Subscription.get(id=item.subscription_id)
    billed = await InvoiceLineItem.filter(subscription_item_id=item.id, price_id=price.id, proration=False) \
        .order_by("period_start").values_list("period_start", "period_end", "invoice_id")
    periods = {start: (end, invoice) for start, end, invoice in billed}
    if sub.status not in ENDED and sub.current_period_start not in periods:
        periods[sub.current_period_start] = (sub.current_period_end, None)
    return [UsageRecordSummary(id=_summary_id(item.id, start), subscription_item_id=item.id, period_start=start,
                               period_end=end, invoice_id=invoice, aggregate_usage=price.recurring_aggregate_usage)
            for start, (end, invoice) in sorted(periods.items(), reverse=True)]


async def read_totals(summaries: list[UsageRecordSummary]) -> list[UsageRecordSummary]:
    """Fill in the total usage of each summary (of one page: one query each)."""
    for summary in summaries:
        summary.total_usage = await aggregate(summary.subscription_item_id, summary.aggregate_usage,
                                              summary.period_start, summary.period_end)
    return summaries


async def summaries(item: SubscriptionItem) -> list[UsageRecordSummary]:
    return await read_totals(await summary_periods(item))
