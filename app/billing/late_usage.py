"""Stripe's finalization grace period: usage reported while a renewal invoice is still a draft (the hour
between its period end and its finalization) is billed on it. When a subscription_cycle draft is
finalized, each of its usage lines gets the latest total of its period; usage reported after that is
stored and summarized, but billed nowhere."""
from collections import defaultdict

from app.billing import catalog_reads, usage, usage_records, writes
from app.models.invoices import Invoice, InvoiceLineItem
from app.models.subscriptions import Subscription, SubscriptionItem

FIELDS = ["amount", "description", "quantity"]


async def refresh(invoices: list[Invoice]) -> None:
    """Re-read the usage of the metered lines of these drafts (only subscription_cycle ones have any to
    refresh): an invoice of licensed items only costs one query, whatever their number."""
    drafts = {i.id: i for i in invoices if i.billing_reason == "subscription_cycle" and i.status == "draft"}
    if not drafts:
        return
    lines = await InvoiceLineItem.filter(invoice_id__in=list(drafts), type="subscription", proration=False,
                                         subscription_item_id__isnull=False)
    await catalog_reads.preload({line.price_id for line in lines if line.price_id})
    metered = [line for line in lines
               if line.price_id and (await catalog_reads.price(line.price_id)).recurring_usage_type == "metered"]
    if not metered:
        return
    subs = {s.id: s for s in await Subscription.filter(id__in={line.subscription_id for line in metered})}
    items = {i.id: i for i in await SubscriptionItem.filter(id__in={line.subscription_item_id for line in metered})}
    by_period: dict[tuple, list[InvoiceLineItem]] = defaultdict(list)
    for line in metered:
        item = items.get(line.subscription_item_id)
        if line.subscription_id in subs and item is not None and item.price_id == line.price_id:
            by_period[(line.subscription_id, line.period_start, line.period_end)].append(line)
    changed = []
    for (sub_id, start, end), period_lines in by_period.items():
        sub = subs[sub_id]
        its = [items[line.subscription_item_id] for line in period_lines]
        specs = {spec.subscription_item_id: spec for spec in [*await usage.meter_lines(sub, its, start, end),
                                                               *await usage_records.record_lines(sub, its, start, end)]}
        for line in period_lines:
            spec = specs.get(line.subscription_item_id)
            if spec is not None and (spec.amount, spec.quantity) != (line.amount, line.quantity):
                line.amount, line.quantity, line.description = spec.amount, spec.quantity, spec.description
                changed.append(line)
    await writes.update(changed, FIELDS)
