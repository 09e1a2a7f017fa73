"""The final period of a subscription whose cancel_at falls inside a later period, as Stripe bills it.

The renewal that starts the period containing cancel_at bills it only up to cancel_at: licensed items
prorated to the second against the whole interval. That period ends at cancel_at (the subscription's
current_period_end shows it), where the subscription cancels without a renewal invoice.
"""
from datetime import datetime, timedelta

from app.billing.invoicing import LineSpec
from app.billing.subscriptions import period_lines
from app.models.subscriptions import Subscription, SubscriptionItem


def cut(sub: Subscription, start: datetime, end: datetime) -> datetime | None:
    """cancel_at when it falls strictly inside the period [start, end), which then ends there."""
    if sub.cancel_at is not None and start < sub.cancel_at < end:
        return sub.cancel_at
    return None


async def lines(sub: Subscription, items: list[SubscriptionItem], start: datetime, end: datetime, *,
                whole: timedelta | None = None) -> list[LineSpec]:
    """The licensed lines a renewal bills for the period from `start` to the boundary `end`, up to
    cancel_at when that cuts it short. `whole` is the interval's length when the period is short anyway
    (a trial that ended before the billing_cycle_anchor)."""
    stop = cut(sub, start, end)
    if stop is None:
        return await period_lines(sub, items, start, end, whole=whole)
    return await period_lines(sub, items, start, stop, whole=whole or end - start)
