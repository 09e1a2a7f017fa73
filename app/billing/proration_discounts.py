"""Prorations net of the subscription's discount, as Stripe computes them.

A proration credits or charges part of a period the customer paid (or will pay) with the discount in
effect, so the discount applies to it too: each proration line carries the discount it takes
(`discount_amounts`, Stripe's itemized proration discounts) and the invoice counts it in its total. The
line's amount stays gross: a credit (negative) carries a negative discount, so its net is what the
customer actually paid for that time.

The share a discount takes of a proration: percent-off takes its percent; amount-off takes the part of
the subscription's whole-period amount that the coupon covers (amount_off over that amount, at most all
of it), so each item's proration bears the coupon in proportion to the item. A coupon limited to some
products takes nothing from the others. The discount of one line is rounded half-up once, on its
absolute amount.
"""
import math
from datetime import datetime
from fractions import Fraction

from app.billing.pricing import amount_for
from app.models.catalog import Price
from app.models.coupons import Coupon, Discount
from app.models.subscriptions import Subscription


def _covers(coupon, product_id: str | None) -> bool:
    return not coupon.applies_to_products or product_id in coupon.applies_to_products


def share(coupon, currency: str, product_id: str | None, whole_period: list[tuple[str, int]]) -> Fraction:
    """The share of a proration of `product_id` the coupon takes. `whole_period` lists (product, amount)
    of the subscription's licensed items for a whole period, as the proration prices them."""
    if not _covers(coupon, product_id):
        return Fraction(0)
    if coupon.percent_off is not None:
        return Fraction(coupon.percent_off) / 100
    if coupon.currency != currency:
        return Fraction(0)
    base = sum(amount for product, amount in whole_period if amount > 0 and _covers(coupon, product))
    return Fraction(min(coupon.amount_off, base), base) if base > 0 else Fraction(0)


def discount_amount(amount: int, rate: Fraction) -> int:
    """The discount on a proration line of `amount` (negative for a credit): half-up on the absolute
    amount, signed like it, never more than the amount."""
    taken = min(math.floor(abs(amount) * rate + Fraction(1, 2)), abs(amount))
    return taken if amount >= 0 else -taken


def whole_period(items: list[tuple[Price, int | None]]) -> list[tuple[str, int]]:
    """(product, whole-period amount) of licensed items given as (price, quantity)."""
    return [(price.product_id, amount_for(price, quantity or 0)) for price, quantity in items
            if price.recurring_usage_type != "metered"]


async def in_effect(sub: Subscription, at: datetime) -> Discount | None:
    """The discount applying to the subscription at `at`: its own, else its customer's (Stripe's precedence)."""
    for scope in (Discount.filter(subscription_id=sub.id, ended_at=None),
                  Discount.filter(customer_id=sub.customer_id, subscription_id=None, invoice_id=None,
                                  ended_at=None)):
        found = [d for d in await scope if d.start <= at and (d.end is None or at < d.end)]
        if found:
            return found[0]
    return None


async def apply(sub: Subscription, specs: list, at: datetime, *, credited: list[tuple[str, int]],
                charged: list[tuple[str, int]]) -> None:
    """Set each proration spec's discount_amounts from the discount in effect at `at`: credits (negative)
    priced with the items as they were (`credited`), charges with the items as they are (`charged`)."""
    discount = await in_effect(sub, at) if specs else None
    if discount is None:
        return
    coupon = await Coupon.get(id=discount.coupon_id)
    products = dict(await Price.filter(id__in={s.price_id for s in specs}).values_list("id", "product_id"))
    for spec in specs:
        rate = share(coupon, spec.currency, products.get(spec.price_id), credited if spec.amount < 0 else charged)
        taken = discount_amount(spec.amount, rate)
        spec.discount_amounts = [{"amount": taken, "discount": discount.id}] if taken else []
