"""Stripe-style prefixed ids: new_id("prod") -> "prod_dn1e0x2k9a7q3f8s1v0c5b2m".

The first 12 characters after the prefix are a base-36 nanosecond clock, so ids sort in creation
order: objects created in the same second (or at one test-clock instant) still list in the order
they happened. The rest comes from `secrets`.
"""
import secrets
import string
import time

_BASE36 = string.digits + string.ascii_lowercase


def _base36(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 36)
        digits.append(_BASE36[digit])
    return "".join(reversed(digits))


def new_id(prefix: str, length: int = 12) -> str:
    """Randomness is drawn once per id (one `secrets.randbelow`), not once per character."""
    return f"{prefix}_{_base36(time.time_ns(), 12)}{_base36(secrets.randbelow(36 ** length), length)}"
