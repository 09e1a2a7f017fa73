"""The catalog read cache keeps sessions' answers apart from keys' answers: a session is never served what
a key read (nor the reverse), and sessions share theirs, since they all read the same active catalog."""
from tests.api.test_read_cache import cached, sql_statements  # noqa: F401 - the fixture, on a Redis of its own
from tests.billing_flows import create_customer
from tests.sessions.world import SESSION

ACTIVE = "{ products(active: true) { nodes { id name } } }"
ALL = "{ products { nodes { id name } } }"


async def _read(api, query: str, secret: str | None = None) -> tuple[dict, int]:
    with sql_statements() as sql:
        status, body = await api.post(query, secret=secret)
    return body, len(sql)


async def _session(api) -> str:
    customer = await create_customer(api, None)
    secret = (await api.ok(SESSION, {"c": customer}))["createCustomerSession"]["clientSecret"]
    await api.ok("{ __typename }", secret=secret)  # its lookup is remembered from here on
    return secret


async def test_sessions_and_keys_never_share_an_answer(cached):  # noqa: F811
    api = cached.api
    first, second = await _session(api), await _session(api)
    await cached.live()
    by_key, ran = await _read(api, ACTIVE)
    assert ran > 0 and by_key["data"]["products"]["nodes"][0]["name"] == "Old"
    assert await _read(api, ACTIVE) == (by_key, 0)
    by_session, ran = await _read(api, ACTIVE, first)
    assert ran > 0 and by_session == by_key  # executed for the session, not served the key's answer
    assert await _read(api, ACTIVE, first) == (by_key, 0)
    assert await _read(api, ACTIVE, second) == (by_key, 0)  # sessions share the active catalog's answers

    everything, _ = await _read(api, ALL)
    assert await _read(api, ALL) == (everything, 0)
    refused, ran = await _read(api, ALL, first)
    assert refused["data"] is None and refused["errors"][0]["extensions"]["type"] == "permission_error"
