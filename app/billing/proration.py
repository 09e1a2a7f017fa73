"""Prorations, to the second, as Stripe computes them.

A change at instant t inside the period [start, end) credits the unused part of the old item
("Unused time on ...", negative) and charges the rest of the period for the new one ("Remaining
time on ...", positive): exact amount x (end - t) / (end - start), rounded half-up once per line.
Proration lines are not discountable by the invoice's coupon: they carry the discount in effect when made
(proration_discounts).
"""
from datetime import datetime
from decimal import Decimal

from app.billing import catalog_reads
from app.billing.invoicing import LineSpec
from app.billing.pricing import exact_amount_for, round_amount
from app.models.catalog import Price


def fraction(start: datetime, end: datetime, at: datetime, until: datetime | None = None) -> Decimal:
    """The share of [start, end) between `at` and `until` (default: the end); 0 when that is empty."""
    total = int((end - start).total_seconds())
    remaining = int((min(until or end, end) - at).total_seconds())
    if total <= 0 or remaining <= 0:
        return Decimal(0)
    return Decimal(min(remaining, total)) / Decimal(total)


async def _describe(price: Price, quantity: int | None) -> str:
    name = await catalog_reads.product_name(price.product_id) or price.product_id
    return f"{quantity or 1} × {name}" if (quantity or 1) != 1 else name


async def proration_line(*, price: Price, quantity: int | None, start: datetime, end: datetime, at: datetime,
                         credit: bool, subscription_id: str, subscription_item_id: str | None,
                         until: datetime | None = None) -> LineSpec | None:
    """One proration line for [at, until) (default: to the period's end) of the period [start, end);
    None when the share or the amount is nothing."""
    share = fraction(start, end, at, until)
    if price.recurring_usage_type == "metered" or share == 0:
        return None
    amount = round_amount(exact_amount_for(price, quantity or 0) * share)
    if amount == 0:
        return None
    label = "Unused time on" if credit else "Remaining time on"
    return LineSpec(
        amount=-amount if credit else amount, currency=price.currency, period_start=at, period_end=until or end,
        description=f"{label} {await _describe(price, quantity)} after {at:%d %b %Y}",
        discountable=False, price_id=price.id, proration=True, quantity=quantity,
        subscription_id=subscription_id, subscription_item_id=subscription_item_id,
    )
