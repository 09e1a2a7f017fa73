"""Stripe-style prefixed ids: new_id("prod") -> "prod_3kTm9...". The random part comes from secrets."""
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))
