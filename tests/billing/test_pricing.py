"""app.billing.pricing against Stripe's worked examples, plus property checks.

Amounts are in cents. Sources are cited per test; where a page gives the tiers and only some
totals, the remaining totals are worked out from the tier definitions in the comment.
"""

import random
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

import pytest

from app.billing.errors import BillingError
from app.billing.pricing import (
    PricingError,
    TierCharge,
    amount_for,
    round_amount,
    tier_breakdown,
    transformed_quantity,
    unit_amount_of,
)


def per_unit(unit_amount=None, unit_amount_decimal=None, transform_quantity=None):
    return SimpleNamespace(billing_scheme="per_unit", unit_amount=unit_amount,
                           unit_amount_decimal=unit_amount_decimal, tiers_mode=None, tiers=None,
                           transform_quantity=transform_quantity)


def tiered(mode, tiers, transform_quantity=None):
    return SimpleNamespace(billing_scheme="tiered", unit_amount=None, unit_amount_decimal=None,
                           tiers_mode=mode, tiers=tiers, transform_quantity=transform_quantity)


def tier(up_to, unit_amount=None, unit_amount_decimal=None, flat_amount=None, flat_amount_decimal=None):
    return {"up_to": up_to, "unit_amount": unit_amount, "unit_amount_decimal": unit_amount_decimal,
            "flat_amount": flat_amount, "flat_amount_decimal": flat_amount_decimal}


# docs.stripe.com/subscriptions/pricing-models/tiered-pricing ("Typographic"):
# fonts 1-5: 7 USD, 6-10: 6.5 USD, 11+: 6 USD.
TYPOGRAPHIC = [tier(5, 700), tier(10, 650), tier(None, 600)]

# stripe.com/docs/billing/subscriptions/tiers: 1-5 $5, 6-10 $4, 11-15 $3, 16-20 $2, 21+ $1.
FIVE_TIERS = [tier(5, 500), tier(10, 400), tier(15, 300), tier(20, 200), tier(None, 100)]


# -- Stripe's worked examples ---------------------------------------------------------------------

@pytest.mark.parametrize(("fonts", "total"), [(1, 700), (5, 3500), (6, 3900), (20, 12000), (25, 15000)])
def test_typographic_volume_table(fonts, total):
    # Stripe's volume table: 1 -> 7 USD, 5 -> 35, 6 -> 39 (6 x 6.5), 20 -> 120, 25 -> 150.
    assert amount_for(tiered("volume", TYPOGRAPHIC), fonts) == total


@pytest.mark.parametrize(("fonts", "total"), [(1, 700), (5, 3500), (6, 4150), (20, 12750), (25, 15750)])
def test_typographic_graduated(fonts, total):
    # Stripe: "5 fonts result in the same charge as volume-based pricing: 35 USD"; beyond that each
    # tier prices its own fonts: 6 -> 5x7 + 1x6.5 = 41.50; 20 -> 35 + 32.50 + 10x6 = 127.50;
    # 25 -> 35 + 32.50 + 15x6 = 157.50.
    assert amount_for(tiered("graduated", TYPOGRAPHIC), fonts) == total


@pytest.mark.parametrize(("quantity", "total"), [(1, 500), (5, 2500), (6, 3000), (20, 10000), (25, 12500)])
def test_per_unit_table_from_tiers_page(quantity, total):
    # stripe.com/docs/billing/subscriptions/tiers, per_unit with unit_amount $5:
    # 1: $5, 5: $25, 6: $30, 20: $100, 25: $125.
    assert amount_for(per_unit(unit_amount=500), quantity) == total


@pytest.mark.parametrize(("quantity", "total"), [(1, 500), (5, 2500), (6, 2400), (20, 4000), (25, 2500)])
def test_volume_table_from_tiers_page(quantity, total):
    # Same page, tiers_mode=volume: 1: $5, 5: $25, 6: $24, 20: $40, 25: $25 (totals can decrease).
    assert amount_for(tiered("volume", FIVE_TIERS), quantity) == total


@pytest.mark.parametrize(("quantity", "total"), [(5, 2500), (6, 2900), (20, 7000), (25, 7500)])
def test_graduated_from_tiers_page(quantity, total):
    # Same page: "the total cost for an amount of 6 is $29: $25 for the 5 quantity that falls into the
    # first tier" + $4 for the sixth. 20 -> 25+20+15+10 = $70; 25 -> $70 + 5x$1 = $75.
    assert amount_for(tiered("graduated", FIVE_TIERS), quantity) == total


@pytest.mark.parametrize(("users", "total"), [(1, 1000), (3, 1000), (5, 1000), (6, 2000), (7, 2000)])
def test_package_pricing_per_five_users_rounds_up(users, total):
    # stripe.com/docs/billing/subscriptions/quantity-transformation: "$10 for every 5 users (or
    # portion thereof)", transform_quantity[divide_by]=5, [round]=up, unit_amount=1000.
    price = per_unit(unit_amount=1000, transform_quantity={"divide_by": 5, "round": "up"})
    assert amount_for(price, users) == total


def test_car_rental_per_started_hour():
    # docs.stripe.com/billing/subscriptions/usage-based/transform-quantities: 10 USD per hour, usage in
    # minutes, divide_by=60 round=up: "150 minutes ... charged 30 USD for 3 hours".
    price = per_unit(unit_amount=1000, transform_quantity={"divide_by": 60, "round": "up"})
    assert transformed_quantity(price, 150) == 3
    assert amount_for(price, 150) == 3000


def test_round_down_charges_only_full_packages():
    # Quantity-transformation page, "Rounding": round=down does not charge for a partial package.
    price = per_unit(unit_amount=1000, transform_quantity={"divide_by": 5, "round": "down"})
    assert [transformed_quantity(price, q) for q in (0, 4, 5, 6, 9, 10, 11)] == [0, 0, 1, 1, 1, 2, 2]
    assert amount_for(price, 4) == 0
    assert amount_for(price, 9) == 1000


def test_fixed_fee_and_overage_usage_price():
    # docs.stripe.com/billing/subscriptions/usage-based/pricing-models, "Fixed fee and overage":
    # 200 USD flat price (a separate price) includes 100,000 tokens; the graduated usage price is
    # 0-100,000 at 0.00 and then 0.001 USD (0.1 cent) per token.
    usage = tiered("graduated", [tier(100_000, 0), tier(None, unit_amount_decimal="0.1")])
    assert amount_for(usage, 0) == 0
    assert amount_for(usage, 100_000) == 0
    assert amount_for(usage, 150_000) == 5000  # 50,000 x 0.001 USD = 50 USD
    assert amount_for(usage, 100_004) == 0  # 0.4 cent rounds half-up to 0
    assert amount_for(usage, 100_005) == 1  # 0.5 cent rounds half-up to 1
    assert amount_for(per_unit(unit_amount=20000), 1) == 20000


def test_flat_fee_and_overages_hypernian():
    # docs.stripe.com/billing/subscriptions/usage-based-v1/use-cases/flat-fee-and-overages:
    # usage 0-1000 at 0 USD, 1000+ at 0.04 USD.
    usage = tiered("graduated", [tier(1000, 0), tier(None, 4)])
    assert amount_for(usage, 1000) == 0
    assert amount_for(usage, 1500) == 2000  # 500 x 0.04 USD


def test_graduated_flat_first_tier_plus_fractional_overage():
    # insiders.stripe.dev/t/how-to-charge-for-free-overflow-tokens/2696: "$4 for the first 100000
    # tokens, $0.000065 for any extra token ... 100070 tokens: $4 + 70 * $0.000065 = $4.00".
    price = tiered("graduated", [tier(100_000, 0, flat_amount=400), tier(None, unit_amount_decimal="0.0065")])
    assert amount_for(price, 100_070) == 400  # 400.455 cents -> 400
    assert amount_for(price, 100_077) == 401  # 400.5005 cents -> 401
    assert amount_for(price, 50_000) == 400


def test_flat_plus_per_unit_tiers():
    # A Stripe graduated price with a flat fee on the first tier (a common "base fee + overage"
    # setup, e.g. bigbinary.com/handling-stripe-subscriptions/metered-billing-subscriptions:
    # 15 USD per month for 2,000 emails then 0.00100 USD per email; 75 USD for 10,000 then 0.00075).
    basic = tiered("graduated", [tier(2000, 0, flat_amount=1500), tier(None, unit_amount_decimal="0.1")])
    premium = tiered("graduated", [tier(10_000, 0, flat_amount=7500),
                                   tier(None, unit_amount_decimal="0.075")])
    assert amount_for(basic, 2000) == 1500
    assert amount_for(basic, 2500) == 1550  # 15 USD + 500 x 0.001 USD
    assert amount_for(premium, 12_000) == 7650  # 75 USD + 2,000 x 0.00075 USD


def test_flat_fees_on_later_tiers():
    # Tier flat_amount: "The flat billing amount for an entire tier, regardless of the number of
    # units in the tier" (Stripe API, price.tiers). Graduated: each tier reached adds its flat fee.
    tiers = [tier(5, 700, flat_amount=1000), tier(10, 650, flat_amount=500), tier(None, 600, flat_amount=200)]
    graduated = tiered("graduated", tiers)
    assert amount_for(graduated, 5) == 3500 + 1000
    assert amount_for(graduated, 6) == 3500 + 650 + 1000 + 500
    assert amount_for(graduated, 11) == 3500 + 3250 + 600 + 1000 + 500 + 200
    # Volume: only the tier containing the quantity, its unit price for all units plus its flat fee.
    volume = tiered("volume", tiers)
    assert amount_for(volume, 5) == 3500 + 1000
    assert amount_for(volume, 6) == 6 * 650 + 500
    assert amount_for(volume, 11) == 11 * 600 + 200


# -- quantity 0 -----------------------------------------------------------------------------------

def test_quantity_zero_charges_first_tier_flat_fee_in_both_modes():
    # Chosen semantics (documented in pricing.py): 0 lies in the first tier (Stripe's Dashboard lists
    # it as "First unit 0"), so a first-tier flat fee acts as a base fee even with no usage.
    tiers = [tier(5, 700, flat_amount=1000), tier(None, 600, flat_amount=500)]
    assert amount_for(tiered("graduated", tiers), 0) == 1000
    assert amount_for(tiered("volume", tiers), 0) == 1000
    assert tier_breakdown(tiered("graduated", tiers), 0) == [TierCharge(0, 0, Decimal(700), Decimal(1000),
                                                                        Decimal(1000))]


def test_quantity_zero_without_flat_fees_is_free():
    assert amount_for(tiered("graduated", TYPOGRAPHIC), 0) == 0
    assert amount_for(tiered("volume", TYPOGRAPHIC), 0) == 0
    assert amount_for(per_unit(unit_amount=500), 0) == 0
    assert amount_for(per_unit(unit_amount=1000, transform_quantity={"divide_by": 5, "round": "up"}), 0) == 0


def test_later_tier_flat_fee_needs_a_unit_in_that_tier():
    price = tiered("graduated", [tier(5, 0), tier(None, 0, flat_amount=999)])
    assert amount_for(price, 0) == 0
    assert amount_for(price, 5) == 0
    assert amount_for(price, 6) == 999


# -- decimal amounts and rounding -----------------------------------------------------------------

@pytest.mark.parametrize(("quantity", "total"), [(10, 0), (14, 0), (15, 1), (100, 4), (1000, 35), (1001, 35)])
def test_fractional_unit_amount(quantity, total):
    # unit_amount_decimal: "a decimal value in cents ... with at most 12 decimal places" (Stripe API).
    # 0.035 cents: 10 -> 0.35, 14 -> 0.49, 15 -> 0.525, 100 -> 3.5 (half-up -> 4), 1000 -> 35.
    assert amount_for(per_unit(unit_amount_decimal=Decimal("0.035")), quantity) == total


@pytest.mark.parametrize(("value", "expected"), [
    ("0.5", 1), ("2.5", 3), ("1.5", 2), ("0.49", 0), ("2.4999999999", 2), ("3.5000000001", 4), ("0", 0),
])
def test_round_amount_is_half_up(value, expected):
    assert round_amount(Decimal(value)) == expected
    assert type(round_amount(Decimal(value))) is int


def test_half_up_differs_from_python_bankers_rounding():
    assert round(Decimal("2.5")) == 2  # Python's default: half-even
    assert round_amount(Decimal("2.5")) == 3
    assert amount_for(per_unit(unit_amount_decimal=Decimal("0.5")), 5) == 3  # 2.5 -> 3


def test_rounds_once_per_line_not_per_unit_or_tier():
    # Three units at 0.5 cents: 1.5 -> 2 (rounding each unit first would give 3).
    assert amount_for(per_unit(unit_amount_decimal=Decimal("0.5")), 3) == 2
    # Two tiers contributing 0.4 cents each: 0.8 -> 1 (rounding each tier first would give 0).
    price = tiered("graduated", [tier(1, unit_amount_decimal="0.4"), tier(None, unit_amount_decimal="0.4")])
    assert amount_for(price, 2) == 1
    # Decimal flat amounts join the same single rounding: 0.3 + 0.3 -> 1 (per-tier rounding gives 0).
    flats = tiered("graduated", [tier(1, 0, flat_amount_decimal="0.3"),
                                 tier(None, 0, flat_amount_decimal="0.3")])
    assert amount_for(flats, 2) == 1


def test_exact_for_twelve_decimal_places_and_huge_quantities():
    assert amount_for(per_unit(unit_amount_decimal=Decimal("0.000000000001")), 10**15) == 1000
    unit = "123456789.123456789012"
    quantity = 10**20 + 7
    expected = Fraction(unit) * quantity
    assert amount_for(per_unit(unit_amount_decimal=Decimal(unit)), quantity) == int(expected + Fraction(1, 2))


def test_unit_amount_of():
    assert unit_amount_of(per_unit(unit_amount=500)) == Decimal(500)
    assert isinstance(unit_amount_of(per_unit(unit_amount=500)), Decimal)
    assert unit_amount_of(per_unit(unit_amount=500, unit_amount_decimal=Decimal("499.5"))) == Decimal("499.5")
    assert unit_amount_of(per_unit(unit_amount_decimal="0.035")) == Decimal("0.035")
    assert unit_amount_of(per_unit(unit_amount=0)) == 0


def test_tier_breakdown():
    assert tier_breakdown(tiered("graduated", TYPOGRAPHIC), 20) == [
        TierCharge(0, 5, Decimal(700), Decimal(0), Decimal(3500)),
        TierCharge(1, 5, Decimal(650), Decimal(0), Decimal(3250)),
        TierCharge(2, 10, Decimal(600), Decimal(0), Decimal(6000)),
    ]
    assert tier_breakdown(tiered("volume", TYPOGRAPHIC), 20) == [
        TierCharge(2, 20, Decimal(600), Decimal(0), Decimal(12000)),
    ]
    assert [c.units for c in tier_breakdown(tiered("graduated", TYPOGRAPHIC), 10)] == [5, 5]


def test_inf_string_is_accepted_for_the_last_tier():
    price = tiered("volume", [tier(5, 700), tier("inf", 600)])
    assert amount_for(price, 6) == 3600


# -- properties -----------------------------------------------------------------------------------

def _random_tiers(rng: random.Random) -> list[dict]:
    tiers, up_to = [], 0
    for _ in range(rng.randint(0, 4)):
        up_to += rng.randint(1, 8)
        tiers.append(_random_tier(rng, up_to))
    tiers.append(_random_tier(rng, None))
    return tiers


def _random_tier(rng: random.Random, up_to):
    unit_decimal = rng.choice([None, str(Decimal(rng.randint(0, 10_000)) / 1000)])
    flat_decimal = rng.choice([None, str(Decimal(rng.randint(0, 5_000)) / 100)])
    return tier(up_to, unit_amount=rng.choice([None, rng.randint(0, 900)]), unit_amount_decimal=unit_decimal,
                flat_amount=rng.choice([None, 0, rng.randint(1, 2000)]), flat_amount_decimal=flat_decimal)


def _unit(t) -> Fraction:
    if t["unit_amount_decimal"] is not None:
        return Fraction(t["unit_amount_decimal"])
    return Fraction(t["unit_amount"] or 0)


def _flat(t) -> Fraction:
    if t["flat_amount_decimal"] is not None:
        return Fraction(t["flat_amount_decimal"])
    return Fraction(t["flat_amount"] or 0)


def _tier_index_of(tiers, quantity):
    return next(i for i, t in enumerate(tiers) if t["up_to"] is None or quantity <= t["up_to"])


def _half_up(value: Fraction) -> int:
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


def _graduated_by_counting(tiers, quantity) -> Fraction:
    """Reference: price each unit by the tier holding it; add the flat fee of every tier reached."""
    total = sum((_unit(tiers[_tier_index_of(tiers, k)]) for k in range(1, quantity + 1)), Fraction(0))
    reached = {0} | {_tier_index_of(tiers, k) for k in range(1, quantity + 1)}
    return total + sum((_flat(tiers[i]) for i in reached), Fraction(0))


CASES = [_random_tiers(random.Random(seed)) for seed in range(60)] + [TYPOGRAPHIC, FIVE_TIERS]


@pytest.mark.parametrize("tiers", CASES)
def test_graduated_is_monotonic_and_matches_unit_by_unit_counting(tiers):
    price = tiered("graduated", tiers)
    amounts = [amount_for(price, q) for q in range(0, 45)]
    assert all(a <= b for a, b in zip(amounts, amounts[1:], strict=False)), amounts
    for q, amount in enumerate(amounts):
        assert amount == _half_up(_graduated_by_counting(tiers, q)), q
        assert sum(c.units for c in tier_breakdown(price, q)) == q


@pytest.mark.parametrize("tiers", CASES)
def test_volume_is_tier_unit_price_times_quantity_plus_flat(tiers):
    price = tiered("volume", tiers)
    for q in range(0, 45):
        t = tiers[_tier_index_of(tiers, q)]
        assert amount_for(price, q) == _half_up(_unit(t) * q + _flat(t)), q


def test_single_unbounded_tier_matches_per_unit():
    rng = random.Random(7)
    for _ in range(200):
        unit = Decimal(rng.randint(0, 10**6)) / 10**rng.randint(0, 6)
        quantity = rng.randint(0, 10**6)
        flat_free = [tier(None, unit_amount_decimal=str(unit))]
        expected = amount_for(per_unit(unit_amount_decimal=unit), quantity)
        assert amount_for(tiered("graduated", flat_free), quantity) == expected
        assert amount_for(tiered("volume", flat_free), quantity) == expected
        assert expected == _half_up(Fraction(unit) * quantity)


def test_transform_round_up_and_down_bracket_the_exact_quotient():
    for divide_by in (1, 2, 3, 5, 60, 1000):
        up = per_unit(unit_amount=1, transform_quantity={"divide_by": divide_by, "round": "up"})
        down = per_unit(unit_amount=1, transform_quantity={"divide_by": divide_by, "round": "down"})
        for q in range(0, 3 * divide_by + 2):
            lo, hi = transformed_quantity(down, q), transformed_quantity(up, q)
            assert lo * divide_by <= q <= hi * divide_by
            assert hi - lo == (0 if q % divide_by == 0 else 1)


# -- refusals -------------------------------------------------------------------------------------

@pytest.mark.parametrize("price", [per_unit(unit_amount=500), tiered("graduated", TYPOGRAPHIC),
                                   tiered("volume", TYPOGRAPHIC)])
def test_negative_quantity_raises_value_error(price):
    with pytest.raises(ValueError, match="quantity"):
        amount_for(price, -1)
    with pytest.raises(BillingError) as info:
        amount_for(price, -1)
    assert info.value.param == "quantity"
    assert info.value.type == "invalid_request_error"


def test_negative_quantity_raises_everywhere():
    with pytest.raises(ValueError):
        transformed_quantity(per_unit(unit_amount=1), -5)
    with pytest.raises(ValueError):
        tier_breakdown(tiered("graduated", TYPOGRAPHIC), -1)


@pytest.mark.parametrize("quantity", [1.5, 2.0, "3", None, True])
def test_non_integer_quantity_is_refused(quantity):
    with pytest.raises(PricingError):
        amount_for(per_unit(unit_amount=1), quantity)


def test_float_prices_are_refused():
    with pytest.raises(PricingError, match="unit_amount_decimal"):
        amount_for(per_unit(unit_amount_decimal=0.035), 1)
    with pytest.raises(PricingError, match=r"tiers\[0\].unit_amount"):
        amount_for(tiered("volume", [tier(None, 1.5)]), 1)


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", "-1"])
def test_malformed_decimal_strings_are_refused(bad):
    with pytest.raises(PricingError):
        amount_for(tiered("graduated", [tier(None, unit_amount_decimal=bad)]), 1)


def test_per_unit_price_without_amount_is_refused():
    with pytest.raises(PricingError, match="unit_amount"):
        amount_for(per_unit(), 1)


@pytest.mark.parametrize("tiers", [
    [],
    None,
    [tier(5, 100)],  # last tier bounded
    [tier(None, 100), tier(None, 50)],  # unbounded tier before the last
    [tier(5, 100), tier(5, 50), tier(None, 10)],  # not increasing
    [tier(0, 100), tier(None, 50)],  # up_to must be positive
    [tier("5", 100), tier(None, 50)],  # up_to must be an integer
])
def test_malformed_tiers_are_refused(tiers):
    with pytest.raises(PricingError):
        amount_for(tiered("graduated", tiers), 3)


def test_unknown_modes_are_refused():
    with pytest.raises(PricingError, match="tiers_mode"):
        amount_for(tiered(None, TYPOGRAPHIC), 3)
    with pytest.raises(PricingError, match="billing_scheme"):
        amount_for(SimpleNamespace(**{**vars(per_unit(unit_amount=1)), "billing_scheme": "package"}), 3)
    with pytest.raises(PricingError, match="billing_scheme"):
        tier_breakdown(per_unit(unit_amount=1), 3)


def test_transform_quantity_is_refused_on_tiered_prices():
    # stripe.com/docs/billing/subscriptions/quantity-transformation: "transform_quantity only works
    # with billing_scheme=per_unit. It is incompatible with tiered pricing."
    with pytest.raises(PricingError, match="transform_quantity"):
        amount_for(tiered("volume", TYPOGRAPHIC, transform_quantity={"divide_by": 5, "round": "up"}), 3)


@pytest.mark.parametrize("transform", [
    {"divide_by": 0, "round": "up"},
    {"divide_by": -5, "round": "up"},
    {"divide_by": 2.5, "round": "up"},
    {"divide_by": 5, "round": "nearest"},
    {"round": "up"},
])
def test_malformed_transform_is_refused(transform):
    with pytest.raises(PricingError, match="transform_quantity"):
        amount_for(per_unit(unit_amount=100, transform_quantity=transform), 7)
