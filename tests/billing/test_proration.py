"""Proration arithmetic, to the second: the remaining share of a period, and proration lines
("Unused time on ..." credits, "Remaining time on ..." charges) checked against hand computation."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from app.billing.prices import create_price
from app.billing.pricing import exact_amount_for
from app.billing.products import create_product
from app.billing.proration import fraction, proration_line

START = datetime(2025, 4, 1, tzinfo=UTC)
END = datetime(2025, 5, 1, tzinfo=UTC)  # a 30-day period
HALF = datetime(2025, 4, 16, tzinfo=UTC)


def test_fraction_is_the_share_of_the_period_left_after_the_instant():
    assert fraction(START, END, HALF) == Decimal(1) / 2
    assert fraction(START, END, START) == 1
    assert fraction(START, END, END) == 0
    assert fraction(START, END, END + timedelta(seconds=1)) == 0
    assert fraction(START, END, START - timedelta(days=3)) == 1  # never more than the whole period
    assert fraction(START, START, START) == 0


def test_fraction_counts_seconds():
    assert fraction(START, END, END - timedelta(seconds=1)) == Decimal(1) / Decimal(30 * 86400)
    at = START + timedelta(days=10, hours=3, minutes=7, seconds=11)
    assert fraction(START, END, at) == Decimal(30 * 86400 - (10 * 86400 + 3 * 3600 + 7 * 60 + 11)) / Decimal(30 * 86400)


async def price_of(unit_amount=None, name="Pro", **extra):
    product = await create_product(name=name)
    return await create_price(product=product.id, currency="usd", unit_amount=unit_amount,
                              recurring=extra.pop("recurring", {"interval": "month"}), **extra)


async def line(price, quantity, at=HALF, credit=False, start=START, end=END):
    return await proration_line(price=price, quantity=quantity, start=start, end=end, at=at, credit=credit,
                                subscription_id="sub_x", subscription_item_id="si_x")


async def test_upgrade_at_half_of_a_30_day_period(db):
    """$30/month -> $60/month at exactly half of the period: -1500 and +3000."""
    old, new = await price_of(3000, name="Basic"), await price_of(6000, name="Premium")
    credit, charge = await line(old, 1, credit=True), await line(new, 1)
    assert (credit.amount, charge.amount) == (-1500, 3000)
    assert credit.description == "Unused time on Basic after 16 Apr 2025"
    assert charge.description == "Remaining time on Premium after 16 Apr 2025"
    for spec in (credit, charge):
        assert spec.proration is True and spec.discountable is False
        assert (spec.period_start, spec.period_end) == (HALF, END)
        assert (spec.currency, spec.quantity) == ("usd", 1)
        assert (spec.subscription_id, spec.subscription_item_id) == ("sub_x", "si_x")
    assert charge.price_id == new.id and credit.price_id == old.id


async def test_quantity_is_in_the_amount_and_the_description(db):
    price = await price_of(1000)
    at = START + timedelta(days=20)  # a third of the period left
    credit, charge = await line(price, 3, at=at, credit=True), await line(price, 5, at=at)
    assert (credit.amount, charge.amount) == (-1000, round(5 * 1000 / 3))
    assert credit.description == "Unused time on 3 × Pro after 21 Apr 2025"
    assert charge.description == "Remaining time on 5 × Pro after 21 Apr 2025"
    assert (credit.quantity, charge.quantity) == (3, 5)


async def test_amounts_to_the_second_rounded_half_up_once(db):
    price = await price_of(4999)
    at = START + timedelta(days=7, hours=13, minutes=42, seconds=5)
    remaining = Fraction(int((END - at).total_seconds()), 30 * 86400)
    expected = int(Fraction(4999 * 7) * remaining + Fraction(1, 2))  # half-up of the exact product
    assert (await line(price, 7, at=at)).amount == expected
    assert (await line(price, 7, at=at, credit=True)).amount == -expected


async def test_exact_halves_round_up_in_magnitude(db):
    price = await price_of(1001)
    assert (await line(price, 1)).amount == 501  # 500.5
    assert (await line(price, 1, credit=True)).amount == -501


async def test_fractional_unit_amounts_are_rounded_once_after_prorating(db):
    price = await price_of(unit_amount_decimal=Decimal("0.5"))
    assert (await line(price, 3)).amount == 1  # 3 x 0.5 = 1.5 for the period, half of it 0.75 -> 1
    assert (await line(price, 5)).amount == 1  # 2.5 x 1/2 = 1.25 -> 1; rounding 2.5 first would give 2


async def test_tiered_prices_prorate_the_whole_amount(db):
    price = await price_of(billing_scheme="tiered", tiers_mode="graduated", tiers=[
        {"up_to": 5, "unit_amount": 1000}, {"up_to": None, "unit_amount": 700, "flat_amount": 300}])
    assert exact_amount_for(price, 8) == 5 * 1000 + 3 * 700 + 300
    assert (await line(price, 8)).amount == (5 * 1000 + 3 * 700 + 300) // 2


async def test_a_prorated_year_uses_the_whole_year(db):
    price = await price_of(36500, recurring={"interval": "year"})
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    assert (await line(price, 1, at=datetime(2025, 12, 2, tzinfo=UTC), start=start, end=end)).amount == 3000


async def test_nothing_to_prorate_gives_no_line(db):
    metered = await price_of(100, recurring={"interval": "month", "usage_type": "metered"})
    free = await price_of(0)
    price = await price_of(3000)
    assert await line(metered, None) is None
    assert await line(free, 1) is None
    assert await line(price, 0) is None
    assert await line(price, 1, at=END) is None
    assert await line(await price_of(1), 1, at=END - timedelta(seconds=100)) is None  # rounds to 0


@pytest.mark.parametrize("seconds_left", [1, 59, 3600, 86399, 15 * 86400, 30 * 86400 - 1])
async def test_credit_and_charge_of_the_same_item_cancel_out(db, seconds_left):
    price = await price_of(2999)
    at = END - timedelta(seconds=seconds_left)
    charge, credit = await line(price, 4, at=at), await line(price, 4, at=at, credit=True)
    assert (charge.amount if charge else 0) == -(credit.amount if credit else 0)
    assert (charge is None) == (seconds_left * 11996 * 2 < 30 * 86400)  # below half a cent: no line
