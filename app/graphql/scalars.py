"""Scalars of the contract that strawberry does not ship: BigInt (registered in the schema's scalar_map)."""
from typing import NewType

import strawberry

BigInt = NewType("BigInt", int)


def _parse_bigint(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("BigInt must be an integer")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError("BigInt out of the 64-bit range")
    return number


SCALARS = {
    BigInt: strawberry.scalar(
        name="BigInt", description="64-bit signed integer, serialized as a JSON number.",
        serialize=int, parse_value=_parse_bigint,
    ),
}
