"""How a coupon splits over an invoice's lines: percent-off per line (half-up), amount-off in proportion
with largest-remainder rounding, so the parts always add up exactly."""
import math
import random
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

import pytest

from app.billing.discount_allocation import allocate, eligible


def line(amount: int, discountable: bool = True, price_id: str | None = None):
    return SimpleNamespace(amount=amount, discountable=discountable, price_id=price_id)


def amount_off(amount: int, currency: str = "usd", products: list[str] | None = None):
    return SimpleNamespace(percent_off=None, amount_off=amount, currency=currency, applies_to_products=products)


def percent_off(percent: str, products: list[str] | None = None):
    return SimpleNamespace(percent_off=Decimal(percent), amount_off=None, currency=None, applies_to_products=products)


def test_percent_off_rounds_each_line_half_up():
    lines = [line(999), line(501), line(4), line(300, discountable=False), line(-200, discountable=False), line(0)]
    assert allocate(percent_off("12.5"), lines, "usd", {}) == [125, 63, 1, 0, 0, 0]
    assert allocate(percent_off("100"), [line(1), line(2)], "usd", {}) == [1, 2]
    assert allocate(percent_off("0.01"), [line(4999), line(5000)], "usd", {}) == [0, 1]


def test_amount_off_split_in_proportion():
    assert allocate(amount_off(100), [line(100), line(100), line(100)], "usd", {}) == [34, 33, 33]
    assert allocate(amount_off(1000), [line(3000), line(1000)], "usd", {}) == [750, 250]
    assert allocate(amount_off(333), [line(1), line(2), line(997)], "usd", {}) == [0, 1, 332]
    assert allocate(amount_off(10), [line(5, discountable=False), line(20), line(-10)], "usd", {}) == [0, 10, 0]


def test_amount_off_is_capped_at_the_eligible_amount():
    assert allocate(amount_off(5000), [line(400), line(200), line(900, discountable=False)], "usd", {}) == [400, 200, 0]
    assert allocate(amount_off(5000), [line(0), line(-5), line(7, discountable=False)], "usd", {}) == [0, 0, 0]
    assert allocate(amount_off(100), [], "usd", {}) == []


def test_a_discount_never_takes_more_than_the_subtotal():
    """Stripe: a discount never becomes customer credit, e.g. beside a proration credit."""
    with_credit = [line(2000), line(-1800, discountable=False)]
    assert allocate(percent_off("50"), with_credit, "usd", {}) == [200, 0]
    assert allocate(amount_off(1000), with_credit, "usd", {}) == [200, 0]
    assert allocate(percent_off("50"), [line(600), line(400), line(-900, discountable=False)], "usd", {}) == [60, 40, 0]
    assert allocate(percent_off("50"), [line(100), line(-500, discountable=False)], "usd", {}) == [0, 0]
    assert allocate(percent_off("50"), [line(2000), line(-500, discountable=False)], "usd", {}) == [1000, 0]


def test_discountable_credits_count_against_the_discount():
    """Stripe: a negative line marked discountable reduces what the coupon works on; the discount is split
    over the positive lines only, and never exceeds the net discountable amount."""
    assert allocate(amount_off(1000), [line(3000), line(-2500)], "usd", {}) == [500, 0]
    assert allocate(amount_off(300), [line(1000), line(500), line(-1200)], "usd", {}) == [200, 100, 0]
    assert allocate(amount_off(300), [line(1000), line(-1200)], "usd", {}) == [0, 0]
    assert allocate(percent_off("50"), [line(2000), line(-1000)], "usd", {}) == [500, 0]
    assert allocate(percent_off("12.5"), [line(999), line(501), line(-100)], "usd", {}) == [117, 58, 0]


def test_non_discountable_credits_only_cap_the_discount():
    """A proration credit is not discountable: the coupon works on the whole positive amount, capped so the
    invoice does not go below zero (or below the cap given: the total net of the prorations' own discounts)."""
    assert allocate(amount_off(1000), [line(3000), line(-2500, discountable=False)], "usd", {}) == [500, 0]
    assert allocate(amount_off(1000), [line(3000), line(-1500, discountable=False)], "usd", {}) == [1000, 0]
    assert allocate(amount_off(1000), [line(3000), line(-2500, discountable=False)], "usd", {}, cap=1750) == [1000, 0]
    assert allocate(percent_off("50"), [line(3000), line(-2500, discountable=False)], "usd", {}, cap=0) == [0, 0]


def test_amount_off_in_another_currency_applies_nowhere():
    assert allocate(amount_off(100, currency="eur"), [line(500), line(500)], "usd", {}) == [0, 0]


def test_applies_to_products():
    products = {"price_a": "prod_a", "price_b": "prod_b"}
    lines = [line(1000, price_id="price_a"), line(1000, price_id="price_b"), line(1000)]
    assert allocate(percent_off("50", ["prod_a"]), lines, "usd", products) == [500, 0, 0]
    assert allocate(amount_off(300, products=["prod_a", "prod_b"]), lines, "usd", products) == [150, 150, 0]
    assert not eligible(line(1000, price_id="price_unknown"), percent_off("50", ["prod_a"]), products)
    assert eligible(line(1000), percent_off("50"), products)


def test_ties_go_to_the_earlier_line():
    assert allocate(amount_off(2), [line(7), line(7), line(7)], "usd", {}) == [1, 1, 0]
    assert allocate(amount_off(1), [line(5), line(5)], "usd", {}) == [1, 0]


def random_lines(rng: random.Random) -> list:
    count = rng.randint(1, 12)
    scale = rng.choice([10, 1000, 10**6, 10**11])
    return [line(rng.randint(-scale // 10, scale), discountable=rng.random() > 0.2,
                 price_id=rng.choice(["price_a", "price_b", None])) for _ in range(count)]


PRODUCTS = {"price_a": "prod_a", "price_b": "prod_b"}


@pytest.mark.parametrize("seed", range(40))
def test_amount_off_properties_over_random_lines(seed):
    rng = random.Random(seed)
    for _ in range(50):
        lines = random_lines(rng)
        products = rng.choice([None, ["prod_a"], ["prod_a", "prod_b"]])
        coupon = amount_off(rng.randint(1, 10**12), products=products)
        parts = allocate(coupon, lines, "usd", PRODUCTS)
        signed = [x.amount if eligible(x, coupon, PRODUCTS) else 0 for x in lines]
        bases = [max(a, 0) for a in signed]
        base = sum(bases)
        total = min(coupon.amount_off, max(sum(signed), 0), max(sum(x.amount for x in lines), 0))
        assert len(parts) == len(lines)
        assert sum(parts) == total, "the parts add up exactly to the discount"
        for part, amount in zip(parts, bases, strict=True):
            assert 0 <= part <= amount, "a line never gets more than its amount, nor a negative discount"
            if base:
                assert abs(part - Fraction(total * amount, base)) < 1, "each part is its share, to the unit"
        ranked = sorted(range(len(lines)), key=lambda i: (bases[i], -i))
        assert [parts[i] for i in ranked] == sorted(parts), "a larger line never gets a smaller part"
        assert allocate(coupon, lines, "usd", PRODUCTS) == parts


@pytest.mark.parametrize("seed", range(20))
def test_percent_off_properties_over_random_lines(seed):
    rng = random.Random(seed)
    for _ in range(50):
        lines = random_lines(rng)
        percent = Decimal(rng.randint(1, 10000)) / 100
        coupon = percent_off(str(percent), rng.choice([None, ["prod_b"]]))
        parts = allocate(coupon, lines, "usd", PRODUCTS)
        signed = [x.amount if eligible(x, coupon, PRODUCTS) else 0 for x in lines]
        positive = [max(a, 0) for a in signed]

        def half_up(amount: int, percent: Decimal = percent) -> int:
            return math.floor(Fraction(amount) * Fraction(percent) / 100 + Fraction(1, 2))

        credits = any(a < 0 for a in signed)
        # each positive line's share rounded half-up; with discountable credits, the share of the net amount
        expected = half_up(max(sum(signed), 0)) if credits else sum(half_up(a) for a in positive)
        cap = max(sum(x.amount for x in lines), 0)
        if expected <= cap:
            assert sum(parts) == expected
            if not credits:
                assert parts == [half_up(a) for a in positive]
        else:
            assert sum(parts) == cap, "capped at the subtotal, exactly"
        assert all(0 <= p <= a for p, a in zip(parts, positive, strict=True))
