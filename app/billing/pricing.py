"""Prices -> amounts: per-unit and tiered prices, transform_quantity, fractional minor units.

Plain functions over any object shaped like Stripe's Price (a Tortoise model in production):
billing_scheme, unit_amount, unit_amount_decimal, tiers_mode, tiers, transform_quantity.

Money follows DESIGN.md: prices may carry fractional minor units (Decimal, at most 12 places in
Stripe); every product and sum is exact Decimal arithmetic, and a line's amount is rounded to an
integer once, half-up, at the end. Floats are refused wherever a price component is read.

Tier semantics (Stripe's, see docs.stripe.com/subscriptions/pricing-models/tiered-pricing):
tier i covers the quantities (previous up_to, up_to]; the first tier starts at 0 and the last
tier has up_to None (Stripe's "inf"). A quantity of 0 therefore lies in the first tier, so in
both modes a quantity of 0 costs the first tier's flat amount (0 if it has none). This is how
Stripe's Dashboard presents tiers ("First unit 0") and what lets a first-tier flat fee act as a
base fee that is billed even for a period without usage. Later tiers' flat fees are only charged
once the quantity reaches them.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation, Overflow, localcontext
from typing import Any, NamedTuple

from app.billing.errors import BillingError

__all__ = [
    "PricingError",
    "TierCharge",
    "amount_for",
    "round_amount",
    "tier_breakdown",
    "transformed_quantity",
    "unit_amount_of",
]

# Products and sums of prices must be exact: trap anything that would round silently.
_EXACT = Context(prec=200, traps=[Inexact, InvalidOperation, Overflow])
_ROUNDING = Context(prec=200)
_ONE = Decimal(1)
_ZERO = Decimal(0)


class PricingError(BillingError, ValueError):
    """A quantity or price that cannot be priced (negative quantity, malformed tiers, ...).

    A ValueError for plain callers and a BillingError (invalid_request_error) for the API layer.
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message, code="parameter_invalid", param=param)


class TierCharge(NamedTuple):
    """What one tier contributes to a tiered line, before the line's single rounding."""

    index: int  # position in price.tiers
    units: int  # units priced by this tier (all units in volume mode)
    unit_amount: Decimal  # the tier's per-unit price, minor units
    flat_amount: Decimal  # the tier's flat fee, minor units (0 if none)
    amount: Decimal  # units * unit_amount + flat_amount, exact


def round_amount(amount: Decimal) -> int:
    """Round an exact Decimal amount to integer minor units, half-up (0.5 -> 1, 2.5 -> 3)."""
    return int(amount.quantize(_ONE, rounding=ROUND_HALF_UP, context=_ROUNDING))


def unit_amount_of(price: Any) -> Decimal:
    """The per-unit price of a per_unit price in minor units: unit_amount_decimal if set, else unit_amount."""
    value = _decimal(getattr(price, "unit_amount_decimal", None), "unit_amount_decimal")
    if value is None:
        value = _decimal(getattr(price, "unit_amount", None), "unit_amount")
    if value is None:
        raise PricingError("The price has neither unit_amount nor unit_amount_decimal.", "unit_amount")
    return value


def transformed_quantity(price: Any, quantity: int) -> int:
    """The quantity after price.transform_quantity: divided by divide_by, rounded up or down.

    With no transform the quantity is returned unchanged. Example (Stripe): divide_by=5, round=up
    turns 6 users into 2 packages; round=down turns 6 into 1.
    """
    _check_quantity(quantity)
    transform = getattr(price, "transform_quantity", None)
    if not transform:
        return quantity
    divide_by = transform.get("divide_by")
    if not _is_int(divide_by) or divide_by <= 0:
        raise PricingError("transform_quantity.divide_by must be a positive integer.",
                           "transform_quantity.divide_by")
    whole, remainder = divmod(quantity, divide_by)
    rounding = transform.get("round")
    if rounding == "up":
        return whole + (1 if remainder else 0)
    if rounding == "down":
        return whole
    raise PricingError("transform_quantity.round must be 'up' or 'down'.", "transform_quantity.round")


def amount_for(price: Any, quantity: int) -> int:
    """The amount of `quantity` units of `price`, in integer minor units (rounded once, half-up).

    per_unit: transformed_quantity x unit_amount_of(price).
    tiered, graduated: each tier reached prices the units inside it at its unit amount, plus its
    flat amount; tiered, volume: the tier containing the whole quantity prices every unit, plus
    its flat amount. A quantity of 0 falls in the first tier in both modes (see the module doc),
    so it costs the first tier's flat amount. Negative quantities raise PricingError (a ValueError).
    """
    return round_amount(exact_amount_for(price, quantity))


def exact_amount_for(price: Any, quantity: int) -> Decimal:
    """amount_for before its rounding: what prorations scale, so a line is still rounded only once."""
    _check_quantity(quantity)
    with localcontext(_EXACT):
        if _scheme(price) == "per_unit":
            return transformed_quantity(price, quantity) * unit_amount_of(price)
        return sum((charge.amount for charge in tier_breakdown(price, quantity)), _ZERO)


def tier_breakdown(price: Any, quantity: int) -> list[TierCharge]:
    """Each tier's exact share of a tiered line (for invoice line descriptions).

    graduated: one entry per tier the quantity reaches (the first tier is always reached);
    volume: a single entry for the tier that contains the quantity. The amounts are exact
    Decimals; amount_for rounds their sum once.
    """
    _check_quantity(quantity)
    if _scheme(price) != "tiered":
        raise PricingError("tier_breakdown needs a price with billing_scheme=tiered.", "billing_scheme")
    if getattr(price, "transform_quantity", None):
        # Stripe: "transform_quantity only works with billing_scheme=per_unit".
        raise PricingError("transform_quantity cannot be combined with tiered pricing.", "transform_quantity")
    tiers = _parse_tiers(getattr(price, "tiers", None))
    mode = getattr(price, "tiers_mode", None)
    with localcontext(_EXACT):
        if mode == "volume":
            for index, (up_to, unit, flat) in enumerate(tiers):
                if up_to is None or quantity <= up_to:
                    return [TierCharge(index, quantity, unit, flat, quantity * unit + flat)]
            raise AssertionError("unreachable: the last tier is unbounded")  # pragma: no cover
        if mode == "graduated":
            charges: list[TierCharge] = []
            lower = 0  # the previous tier's up_to: this tier holds quantities in (lower, up_to]
            for index, (up_to, unit, flat) in enumerate(tiers):
                if index > 0 and quantity <= lower:
                    break
                units = (quantity if up_to is None else min(quantity, up_to)) - lower
                charges.append(TierCharge(index, units, unit, flat, units * unit + flat))
                if up_to is None or quantity <= up_to:
                    break
                lower = up_to
            return charges
    raise PricingError("A tiered price needs tiers_mode 'graduated' or 'volume'.", "tiers_mode")


# -- helpers -----------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_quantity(quantity: Any) -> None:
    if not _is_int(quantity):
        raise PricingError(f"quantity must be an integer, got {type(quantity).__name__}.", "quantity")
    if quantity < 0:
        raise PricingError("quantity must be zero or positive.", "quantity")


def _scheme(price: Any) -> str:
    scheme = getattr(price, "billing_scheme", None) or "per_unit"  # Stripe's default
    if scheme not in ("per_unit", "tiered"):
        raise PricingError(f"Unknown billing_scheme: {scheme!r}.", "billing_scheme")
    return scheme


def _decimal(value: Any, param: str) -> Decimal | None:
    """A price component as an exact Decimal: int, Decimal or decimal string; never a float."""
    if value is None:
        return None
    if isinstance(value, bool | float):
        raise PricingError(f"{param} must be an integer or a decimal string, not {type(value).__name__}.",
                           param)
    try:
        result = Decimal(value) if isinstance(value, int | Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise PricingError(f"{param} is not a decimal number: {value!r}.", param) from None
    if not result.is_finite() or result < 0:
        raise PricingError(f"{param} must be a finite, non-negative amount.", param)
    return result


def _parse_tiers(raw: Any) -> list[tuple[int | None, Decimal, Decimal]]:
    """Validate tiers and return (up_to, unit amount, flat amount) per tier, in order."""
    if not raw:
        raise PricingError("A tiered price needs at least one tier.", "tiers")
    parsed: list[tuple[int | None, Decimal, Decimal]] = []
    previous = 0
    for index, tier in enumerate(raw):
        param = f"tiers[{index}]"
        up_to = tier.get("up_to")
        last = index == len(raw) - 1
        if up_to == "inf":
            up_to = None
        if up_to is None:
            if not last:
                raise PricingError("Only the last tier may be unbounded (up_to = inf).", f"{param}.up_to")
        elif not _is_int(up_to) or up_to <= previous:
            raise PricingError("Tier up_to values must be increasing positive integers.", f"{param}.up_to")
        elif last:
            raise PricingError("The last tier must be unbounded (up_to = inf).", f"{param}.up_to")
        unit = _decimal(tier.get("unit_amount_decimal"), f"{param}.unit_amount_decimal")
        if unit is None:
            unit = _decimal(tier.get("unit_amount"), f"{param}.unit_amount")
        flat = _decimal(tier.get("flat_amount_decimal"), f"{param}.flat_amount_decimal")
        if flat is None:
            flat = _decimal(tier.get("flat_amount"), f"{param}.flat_amount")
        parsed.append((up_to, unit if unit is not None else _ZERO, flat if flat is not None else _ZERO))
        previous = up_to if up_to is not None else previous
    return parsed
