"""Stripe-style prefixed ids: new_id("prod") -> "prod_dn1e0x2k9a7q3f8s1v0c5b2m".

The first 12 characters after the prefix are a base-36 nanosecond clock, so ids sort in creation
order: objects created in the same second (or at one test-clock instant) still list in the order
they happened. The rest comes from `secrets`.
"""
import secrets
import string
import time

_BASE36 = string.digits + string.ascii_lowercase
_PAIRS = [a + b for a in _BASE36 for b in _BASE36]  # two base-36 digits at a time


def _base36(number: int, width: int) -> str:
    """`number` (below 36 ** width) in `width` base-36 digits."""
    pairs = []
    for _ in range((width + 1) // 2):
        number, pair = divmod(number, 1296)
        pairs.append(_PAIRS[pair])
    return "".join(reversed(pairs))[-width:]


def new_id(prefix: str, length: int = 12) -> str:
    """Randomness is drawn once per id (one `secrets.randbelow`), not once per character."""
    return f"{prefix}_{_base36(time.time_ns(), 12)}{_base36(secrets.randbelow(36 ** length), length)}"


def made_before(prefix: str, seconds_ago: float) -> str:
    """An id every id of `prefix` made more than `seconds_ago` (real time) sorts before, whatever the
    object's `created` (a test clock's time)."""
    return f"{prefix}_{_base36(time.time_ns() - int(seconds_ago * 1e9), 12)}"
