"""createCustomerSession: a 30-minute client secret, stored as a digest, for an existing customer; expired,
unknown and orphaned secrets are refused like a bad key."""
import hashlib
import time
from datetime import UTC, datetime, timedelta

from app.billing.customer_sessions import PREFIX
from app.graphql import auth
from app.models.access import CustomerSession
from tests.billing_flows import create_clock, create_customer
from tests.sessions.world import SESSION

READ = "query($c: ID!) { customer(id: $c) { id } }"
UNAUTHENTICATED = {"code": "unauthenticated", "type": "authentication_error", "param": None}


async def _session(api, customer: str) -> dict:
    return (await api.ok(SESSION, {"c": customer}))["createCustomerSession"]


async def test_a_session_is_a_random_secret_for_30_minutes_stored_as_a_digest(api):
    customer = await create_customer(api, None)
    before = datetime.now(UTC).replace(microsecond=0)
    first, second = await _session(api, customer), await _session(api, customer)
    after = datetime.now(UTC)
    assert first["customer"] == {"id": customer}
    assert first["clientSecret"].startswith(PREFIX) and len(first["clientSecret"]) >= len(PREFIX) + 43
    assert first["clientSecret"] != second["clientSecret"]
    expires = datetime.fromisoformat(first["expiresAt"])
    assert before + timedelta(minutes=30) <= expires <= after + timedelta(minutes=30)
    rows = await CustomerSession.all().values()
    assert len(rows) == 2
    digests = {hashlib.sha256(s["clientSecret"].encode()).hexdigest() for s in (first, second)}
    assert {row["digest"] for row in rows} == digests
    for row in rows:
        assert row["customer_id"] == customer
        assert not any(first["clientSecret"][len(PREFIX):] in str(v) or second["clientSecret"][len(PREFIX):] in str(v)
                       for v in row.values())
    assert await api.ok(READ, {"c": customer}, secret=first["clientSecret"]) == {"customer": {"id": customer}}


async def test_expiry_is_real_time_even_on_a_test_clock(api):
    clock = await create_clock(api, datetime(2020, 1, 1, tzinfo=UTC))
    customer = await create_customer(api, clock)
    session = await _session(api, customer)
    assert datetime.fromisoformat(session["expiresAt"]) > datetime.now(UTC) + timedelta(minutes=29)
    assert (await api.ok(READ, {"c": customer}, secret=session["clientSecret"]))["customer"]["id"] == customer


async def test_unknown_missing_and_deleted_customers_get_no_session(api):
    error = await api.error(SESSION, {"c": "cus_missing"})
    assert error["extensions"] == {"code": "resource_missing", "type": "invalid_request_error", "param": "customer"}
    customer = await create_customer(api, None)
    await api.ok("mutation($c: ID!) { deleteCustomer(id: $c) { id } }", {"c": customer})
    error = await api.error(SESSION, {"c": customer})
    assert error["extensions"]["code"] == "resource_missing"
    assert await CustomerSession.all().count() == 0


async def _refused(api, secret: str) -> dict:
    status, body = await api.post(READ, {"c": "cus_x"}, secret=secret)
    assert status == 401, body
    assert body["errors"][0]["extensions"] == UNAUTHENTICATED
    assert "data" not in body
    return body["errors"][0]


async def test_an_expired_session_is_refused(api):
    customer = await create_customer(api, None)
    session = await _session(api, customer)
    await CustomerSession.filter(customer_id=customer).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    auth.forget_sessions()
    error = await _refused(api, session["clientSecret"])
    assert error["message"] == "Invalid or expired customer session secret."


async def test_a_remembered_session_is_never_trusted_past_its_expiry(api, monkeypatch):
    monkeypatch.setattr(auth.keys, "CACHE_SECONDS", 3600)
    customer = await create_customer(api, None)
    session = await _session(api, customer)
    await api.ok(READ, {"c": customer}, secret=session["clientSecret"])  # remembered from here
    principal = await auth.authenticate(session["clientSecret"])
    assert (principal.kind, principal.customer_id) == (auth.CUSTOMER_SESSION, customer)
    until, _ = auth._sessions[auth.keys.digest(session["clientSecret"])]
    remaining = (principal.expires_at - datetime.now(UTC)).total_seconds()
    assert until - time.monotonic() <= remaining + 1


async def test_unknown_and_altered_secrets_are_refused(api):
    customer = await create_customer(api, None)
    session = await _session(api, customer)
    for secret in (PREFIX + "x" * 43, session["clientSecret"][:-1], session["clientSecret"].upper(), PREFIX):
        await _refused(api, secret)


async def test_a_deleted_customers_session_is_refused(api):
    customer = await create_customer(api, None)
    session = await _session(api, customer)
    await api.ok("mutation($c: ID!) { deleteCustomer(id: $c) { id } }", {"c": customer})
    auth.forget_sessions()
    await _refused(api, session["clientSecret"])


async def test_expired_sessions_are_deleted_when_new_ones_are_made(api):
    customer = await create_customer(api, None)
    await _session(api, customer)
    await CustomerSession.all().update(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    fresh = await _session(api, customer)
    rows = await CustomerSession.all().values("digest")
    assert rows == [{"digest": hashlib.sha256(fresh["clientSecret"].encode()).hexdigest()}]


async def test_a_session_cannot_make_sessions(api):
    customer = await create_customer(api, None)
    session = await _session(api, customer)
    error = await api.error(SESSION, {"c": customer}, secret=session["clientSecret"])
    assert error["extensions"]["type"] == "permission_error"
    assert await CustomerSession.all().count() == 1
