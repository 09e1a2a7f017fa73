"""Secret API keys: high-entropy random strings, stored only as SHA-256 digests.

A key has 192 bits of randomness, so a fast digest is as safe as a slow password hash and costs
a request microseconds instead of tens of milliseconds.

An authenticated key is remembered in the process for BILLING_API_KEY_CACHE_SECONDS (10; 0 turns
it off), so a client's requests do not each read the database: revoking a key takes effect within
that time. Unknown and revoked keys are never remembered.
"""
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict

from tortoise.exceptions import IntegrityError

from app.config import load
from app.ids import new_id
from app.models.access import ApiKey

PREFIX = "sk_test_"
CACHE_SECONDS = load().api_key_cache_seconds
CACHE_SIZE = 1024
_known: OrderedDict[str, tuple[float, ApiKey]] = OrderedDict()  # digest -> (expiry, key), oldest first


def generate() -> str:
    return PREFIX + secrets.token_urlsafe(24)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def store(secret: str, name: str | None = None) -> ApiKey:
    """Register a key; storing one that exists already is a no-op (bootstrap runs on every start)."""
    try:
        return await ApiKey.create(id=new_id("key"), digest=digest(secret), last4=secret[-4:], name=name)
    except IntegrityError:
        return await ApiKey.get(digest=digest(secret))


async def authenticate(secret: str) -> ApiKey | None:
    """The active (not revoked) key for `secret`, or None.

    The lookup is by digest, so its timing tells nothing about the secret; the match is then
    confirmed with a constant-time comparison."""
    wanted = digest(secret)
    now = time.monotonic()
    expiry, key = _known.get(wanted, (0.0, None))
    if expiry <= now:
        key = await ApiKey.get_or_none(digest=wanted, revoked=False)
        _remember(wanted, key, now)
    if key is None or not hmac.compare_digest(key.digest, wanted):
        return None
    return key


def _remember(wanted: str, key: ApiKey | None, now: float) -> None:
    _known.pop(wanted, None)
    if key is None or CACHE_SECONDS <= 0:
        return
    _known[wanted] = (now + CACHE_SECONDS, key)
    while len(_known) > CACHE_SIZE:
        _known.popitem(last=False)
