"""Stripe-style prefixed ids: new_id("prod") -> "prod_3kTm9...". The random part comes from secrets."""
import secrets
import string
import time

_ALPHABET = string.ascii_letters + string.digits
_BASE36 = string.digits + string.ascii_lowercase


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_sortable_id(prefix: str, length: int = 12) -> str:
    """An id that sorts in creation order (a base-36 nanosecond clock, then randomness): events
    created in the same second still list in the order they happened."""
    now, stamp = time.time_ns(), ""
    for _ in range(12):
        now, digit = divmod(now, 36)
        stamp = _BASE36[digit] + stamp
    return f"{prefix}_{stamp}" + "".join(secrets.choice(_BASE36) for _ in range(length))
