"""How much a coupon takes off each line of an invoice.

A coupon applies to the discountable lines of the products it covers. Discountable credits (negative
lines marked discountable, as Stripe's `discountable=true` on a negative invoice item) count against it:
the discount works on the net discountable amount, and is split over the positive lines only. Proration
lines are not discountable here: their discount is taken when they are made (proration_discounts).

Percent-off takes its share of each positive line, rounded half-up per line (of the net amount, split in
proportion, when there are discountable credits). Amount-off takes at most the net discountable amount,
split across positive lines in proportion to their amounts, with largest-remainder rounding so the parts
add up exactly. Either way a discount never takes more than the invoice's total before it: it never
turns into customer credit (Stripe's rule).
"""
from decimal import Decimal

from app.billing.pricing import round_amount


def eligible(line, coupon, product_of_price: dict[str, str]) -> bool:
    """A discountable, non-zero line, of a product the coupon applies to (all products by default)."""
    if not line.discountable or line.amount == 0:
        return False
    if coupon.applies_to_products:
        return product_of_price.get(line.price_id) in coupon.applies_to_products
    return True


def split(total: int, amounts: list[int]) -> list[int]:
    """`total` (at most sum(amounts)) in proportion to non-negative amounts; the parts add up to total,
    the largest remainders (then the earliest lines) taking the leftover units."""
    base = sum(amounts)
    if total <= 0 or base <= 0:
        return [0] * len(amounts)
    shares = [divmod(total * a, base) for a in amounts]
    parts = [q for q, _ in shares]
    leftover = total - sum(parts)
    by_remainder = sorted(range(len(amounts)), key=lambda i: (-shares[i][1], i))
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return parts


def allocate(coupon, lines: list, currency: str, product_of_price: dict[str, str],
             cap: int | None = None) -> list[int]:
    """The discount on each line (0 where it does not apply), in line order. `cap`: the most the discount
    may take (default: the lines' total, so it never becomes credit)."""
    amounts = [line.amount if eligible(line, coupon, product_of_price) else 0 for line in lines]
    positive = [max(a, 0) for a in amounts]
    net = max(sum(amounts), 0)  # discountable credits count against the discount
    cap = max(sum(line.amount for line in lines) if cap is None else cap, 0)
    if coupon.percent_off is not None:
        if any(a < 0 for a in amounts):
            parts = split(round_amount(Decimal(net) * coupon.percent_off / 100), positive)
        else:
            parts = [round_amount(Decimal(a) * coupon.percent_off / 100) if a else 0 for a in positive]
        return parts if sum(parts) <= cap else split(cap, positive)
    if coupon.currency != currency:
        return [0] * len(lines)
    return split(min(coupon.amount_off, net, cap), positive)
