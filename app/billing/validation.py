"""Input rules shared by every object: metadata, currencies, amounts, strings."""
from datetime import datetime
from decimal import Decimal, InvalidOperation

import pycountry

from app.billing.errors import invalid

MAX_METADATA_KEYS = 50
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500
MAX_AMOUNT = 999_999_999_999
MAX_DECIMAL_PLACES = 12


def _check_metadata_pair(key, value, param: str) -> None:
    if not isinstance(key, str) or not key:
        raise invalid("Metadata keys must be non-empty strings.", param)
    if len(key) > MAX_METADATA_KEY:
        raise invalid(f"Metadata keys can be at most {MAX_METADATA_KEY} characters long: '{key[:60]}'.", param)
    if "[" in key or "]" in key:
        raise invalid("Metadata keys cannot contain square brackets.", param)
    if not isinstance(value, str):
        raise invalid(f"Metadata values must be strings (key '{key}').", param)
    if "\x00" in key or "\x00" in value:
        raise invalid("Metadata cannot contain NUL characters.", param)
    if len(value) > MAX_METADATA_VALUE:
        raise invalid(f"Metadata values can be at most {MAX_METADATA_VALUE} characters long (key '{key}').", param)


def _as_dict(metadata, param: str) -> dict:
    if not isinstance(metadata, dict):
        raise invalid("Metadata must be an object of string keys to string values.", param)
    return metadata


def _check_count(result: dict, param: str) -> dict:
    if len(result) > MAX_METADATA_KEYS:
        raise invalid(f"Metadata can have at most {MAX_METADATA_KEYS} keys.", param)
    return result


def new_metadata(metadata, param: str = "metadata") -> dict:
    """Metadata given at creation: empty values are dropped, as in Stripe."""
    if metadata is None:
        return {}
    result = {}
    for key, value in _as_dict(metadata, param).items():
        if value is None or value == "":
            continue
        _check_metadata_pair(key, value, param)
        result[key] = value
    return _check_count(result, param)


def merge_metadata(existing: dict, update, param: str = "metadata") -> dict:
    """An update merges keys; a key given "" or null is removed; metadata: null clears all."""
    if update is None:
        return {}
    result = dict(existing)
    for key, value in _as_dict(update, param).items():
        if value is None or value == "":
            if not isinstance(key, str):
                raise invalid("Metadata keys must be non-empty strings.", param)
            result.pop(key, None)
            continue
        _check_metadata_pair(key, value, param)
        result[key] = value
    return _check_count(result, param)


def currency(code, param: str = "currency") -> str:
    """A known ISO 4217 code, stored lowercase."""
    if not isinstance(code, str) or len(code) != 3 or pycountry.currencies.get(alpha_3=code.upper()) is None:
        raise invalid(f"Invalid currency: {code!r}. It must be a three-letter ISO 4217 code.", param)
    return code.lower()


def amount(value, param: str, *, positive: bool = False) -> int:
    """An integer amount in minor units: non-negative (or positive) and within bounds."""
    if value is None:
        return None
    if positive and value <= 0:
        raise invalid("This value must be greater than 0.", param)
    if value < 0:
        raise invalid("This value must be greater than or equal to 0.", param)
    if value > MAX_AMOUNT:
        raise invalid(f"This value must be less than or equal to {MAX_AMOUNT}.", param)
    return value


def decimal_amount(value, param: str) -> Decimal | None:
    """A fractional minor-unit amount: non-negative, at most 12 decimal places."""
    if value is None:
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise invalid("Invalid decimal.", param) from None
    if not d.is_finite():
        raise invalid("Invalid decimal.", param)
    if d < 0:
        raise invalid("This value must be greater than or equal to 0.", param)
    if d > MAX_AMOUNT:
        raise invalid(f"This value must be less than or equal to {MAX_AMOUNT}.", param)
    exponent = d.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMAL_PLACES:
        raise invalid(f"This value can have at most {MAX_DECIMAL_PLACES} decimal places.", param)
    return d


def string(value, param: str, *, max_length: int, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise invalid("This value cannot be null.", param)
        return None
    if required and not value.strip():
        raise invalid("This value cannot be empty.", param)
    if "\x00" in value:
        raise invalid("This value cannot contain NUL characters.", param)
    if len(value) > max_length:
        raise invalid(f"This value can be at most {max_length} characters long.", param)
    return value


def future(value: datetime | None, now: datetime, param: str) -> datetime | None:
    if value is not None and value <= now:
        raise invalid("This time must be in the future.", param)
    return value


def decimal_str(value: Decimal | None) -> str | None:
    """A Decimal as Stripe writes it: plain notation, no trailing zeros."""
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
