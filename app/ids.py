"""Stripe-style prefixed ids: new_id("prod") -> "prod_dn1e0x2k9a7q3f8s1v0c5b2m".

The first 12 characters after the prefix are a base-36 nanosecond clock, so ids sort in creation
order: objects created in the same second (or at one test-clock instant) still list in the order
they happened. The rest comes from `secrets`.
"""
import secrets
import string
import time

_BASE36 = string.digits + string.ascii_lowercase


def new_id(prefix: str, length: int = 12) -> str:
    now, stamp = time.time_ns(), ""
    for _ in range(12):
        now, digit = divmod(now, 36)
        stamp = _BASE36[digit] + stamp
    return f"{prefix}_{stamp}" + "".join(secrets.choice(_BASE36) for _ in range(length))
