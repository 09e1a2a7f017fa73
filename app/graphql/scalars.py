"""Scalars of the contract that strawberry does not ship or writes otherwise (registered in the schema's
scalar_map): BigInt, Decimal in Stripe's plain notation ("0.000000000001", "12.5"), and DateTime, where a
time without an offset is UTC (the contract's times are UTC)."""
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import NewType

import strawberry

from app.billing.validation import decimal_str

BigInt = NewType("BigInt", int)


def _parse_bigint(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("BigInt must be an integer")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError("BigInt out of the 64-bit range")
    return number


def _parse_decimal(value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("Decimal must be a decimal string or a number")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"Invalid Decimal: {value!r}") from None


def _parse_datetime(value) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string")
    parsed = datetime.fromisoformat(value)  # a ValueError names the bad value
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


SCALARS = {
    BigInt: strawberry.scalar(
        name="BigInt", description="64-bit signed integer, serialized as a JSON number.",
        serialize=int, parse_value=_parse_bigint,
    ),
    Decimal: strawberry.scalar(
        name="Decimal", description="Decimal (fixed-point)",
        serialize=decimal_str, parse_value=_parse_decimal,
    ),
    datetime: strawberry.scalar(
        name="DateTime", description="Date with time (isoformat)",
        serialize=datetime.isoformat, parse_value=_parse_datetime,
    ),
}
