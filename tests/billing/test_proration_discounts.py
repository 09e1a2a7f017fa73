"""The arithmetic of prorations net of a discount: the share a coupon takes of a proration, and the
discount of one line, rounded half-up once on its absolute amount, signed like the line."""
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

import pytest

from app.billing.proration_discounts import discount_amount, share, whole_period


def percent_off(percent: str, products: list[str] | None = None):
    return SimpleNamespace(percent_off=Decimal(percent), amount_off=None, currency=None, applies_to_products=products)


def amount_off(amount: int, currency: str = "usd", products: list[str] | None = None):
    return SimpleNamespace(percent_off=None, amount_off=amount, currency=currency, applies_to_products=products)


def test_percent_off_takes_its_percent_exactly():
    assert share(percent_off("50"), "usd", "prod_a", []) == Fraction(1, 2)
    assert share(percent_off("12.5"), "usd", "prod_a", []) == Fraction(1, 8)
    assert share(percent_off("33.33"), "usd", None, []) == Fraction(3333, 10000)


def test_amount_off_takes_its_part_of_the_whole_period():
    """$10 off a $30 subscription is a third off each item's prorations; more than the whole is all of it."""
    assert share(amount_off(1000), "usd", "prod_a", [("prod_a", 3000)]) == Fraction(1, 3)
    assert share(amount_off(1000), "usd", "prod_a", [("prod_a", 3000), ("prod_b", 2000)]) == Fraction(1, 5)
    assert share(amount_off(9000), "usd", "prod_a", [("prod_a", 3000)]) == 1
    assert share(amount_off(1000), "usd", "prod_a", [("prod_a", 0)]) == 0
    assert share(amount_off(1000), "usd", "prod_a", []) == 0
    assert share(amount_off(1000, currency="eur"), "usd", "prod_a", [("prod_a", 3000)]) == 0


def test_a_coupon_for_some_products_leaves_the_others_alone():
    assert share(percent_off("50", ["prod_a"]), "usd", "prod_b", []) == 0
    assert share(percent_off("50", ["prod_a"]), "usd", "prod_a", []) == Fraction(1, 2)
    only_a = amount_off(1000, products=["prod_a"])
    assert share(only_a, "usd", "prod_a", [("prod_a", 2000), ("prod_b", 8000)]) == Fraction(1, 2)
    assert share(only_a, "usd", "prod_b", [("prod_a", 2000), ("prod_b", 8000)]) == 0


@pytest.mark.parametrize(("amount", "rate", "expected"), [
    (1500, Fraction(1, 2), 750),
    (-1500, Fraction(1, 2), -750),
    (1001, Fraction(1, 2), 501),  # half-up
    (-1001, Fraction(1, 2), -501),  # half-up on the absolute amount: a credit mirrors its charge
    (1000, Fraction(1, 3), 333),
    (2000, Fraction(1, 3), 667),
    (700, Fraction(0), 0),
    (700, Fraction(1), 700),
    (-700, Fraction(3, 2), -700),  # never more than the line
    (0, Fraction(1, 2), 0),
])
def test_discount_of_one_line(amount, rate, expected):
    assert discount_amount(amount, rate) == expected


def test_credit_and_charge_of_the_same_time_net_to_the_discounted_difference():
    """Upgrading $30 -> $60 at half the period with 50% off: credit -1500 (-750 off), charge 3000 (1500 off);
    the customer pays 750 net, half of the undiscounted 1500."""
    rate = share(percent_off("50"), "usd", "prod", [])
    credit, charge = -1500, 3000
    net = (credit - discount_amount(credit, rate)) + (charge - discount_amount(charge, rate))
    assert net == 750


def test_whole_period_skips_metered_items():
    licensed = SimpleNamespace(product_id="prod_a", recurring_usage_type="licensed", billing_scheme="per_unit",
                               unit_amount=1500, unit_amount_decimal=None, transform_quantity_divide_by=None,
                               transform_quantity_round=None, tiers=None, tiers_mode=None, currency="usd")
    metered = SimpleNamespace(product_id="prod_b", recurring_usage_type="metered")
    assert whole_period([(licensed, 2), (metered, None)]) == [("prod_a", 3000)]
