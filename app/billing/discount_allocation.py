"""How much a coupon takes off each line of an invoice.

Percent-off takes its share of each eligible line, rounded half-up per line. Amount-off takes at
most the eligible subtotal, split across eligible lines in proportion to their amounts, with
largest-remainder rounding so the parts add up exactly to the discount.
"""
from decimal import Decimal

from app.billing.pricing import round_amount


def eligible(line, coupon, product_of_price: dict[str, str]) -> bool:
    """A discountable, positive line, of a product the coupon applies to (all products by default)."""
    if not line.discountable or line.amount <= 0:
        return False
    if coupon.applies_to_products:
        return product_of_price.get(line.price_id) in coupon.applies_to_products
    return True


def allocate(coupon, lines: list, currency: str, product_of_price: dict[str, str]) -> list[int]:
    """The discount on each line (0 where it does not apply), in line order."""
    amounts = [line.amount if eligible(line, coupon, product_of_price) else 0 for line in lines]
    if coupon.percent_off is not None:
        return [round_amount(Decimal(a) * coupon.percent_off / 100) if a else 0 for a in amounts]
    if coupon.currency != currency:
        return [0] * len(lines)
    base = sum(amounts)
    total = min(coupon.amount_off, base)
    if total <= 0:
        return [0] * len(lines)
    shares = [divmod(total * a, base) for a in amounts]
    parts = [q for q, _ in shares]
    leftover = total - sum(parts)
    by_remainder = sorted(range(len(lines)), key=lambda i: (-shares[i][1], i))
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return parts
