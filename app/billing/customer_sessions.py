"""Customer sessions: a short-lived client secret that lets one customer's frontend read that customer's
billing data (what it may read is app/graphql/auth.py's business).

As with API keys, the secret is 256 random bits and only its SHA-256 digest is stored. Sessions last
30 minutes of real time, as Stripe's do: a test clock moves the customer's billing, not its sessions.
"""
import hmac
import secrets
from datetime import timedelta

from app.billing.lookup import get
from app.clock import utcnow
from app.ids import new_id
from app.keys import digest
from app.models.access import CustomerSession
from app.models.customers import Customer

PREFIX = "cuss_secret_"
LIFETIME = timedelta(minutes=30)


def is_session_secret(secret: str) -> bool:
    return secret.startswith(PREFIX)


async def create_customer_session(customer: str) -> CustomerSession:
    """A new session for an existing customer; its `client_secret` attribute is the only copy of the secret.
    Sessions that have expired are deleted on the way."""
    owner = await get(Customer, customer, "customer")
    secret = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    await CustomerSession.filter(expires_at__lte=now).delete()
    session = await CustomerSession.create(id=new_id("cuss"), customer_id=owner.id, digest=digest(secret),
                                           expires_at=now + LIFETIME, created=now)
    session.client_secret = secret
    return session


async def find_active(secret: str) -> CustomerSession | None:
    """The unexpired session of a customer not deleted for `secret`, or None. Looked up by digest, then
    confirmed with a constant-time comparison."""
    wanted = digest(secret)
    session = await CustomerSession.get_or_none(digest=wanted, expires_at__gt=utcnow(), customer__deleted=False)
    if session is None or not hmac.compare_digest(session.digest, wanted):
        return None
    return session
