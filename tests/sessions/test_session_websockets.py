"""The boundary of a customer session over websockets: it subscribes to its own customer's
activeEntitlementsChanged and to nothing else, reads every field listed for the summary, and its connection
is refused once the session has expired, or closed when it expires."""
from datetime import timedelta

import pytest

from app import websockets
from app.clock import utcnow
from app.graphql.auth import SESSION_FIELDS, forget_sessions
from app.graphql.schema import schema
from app.models.access import CustomerSession
from tests.live_client import LEGACY_WS, TRANSPORT_WS, LiveClient, connect
from tests.sessions.test_session_boundary import SUBSCRIBED, call
from tests.sessions.world import FORBIDDEN, SESSION, World, world_fixture  # noqa: F401 - the fixture

OWN = "subscription($c: ID!) { activeEntitlementsChanged(customer: $c) { %s } }"
PROTOCOLS = pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])


def _errors(message: dict) -> list[dict]:
    """The errors of an operation's first message: an error message, or a result with errors."""
    if message["type"] == "error":
        payload = message["payload"]
        return payload if isinstance(payload, list) else [payload]
    return message["payload"].get("errors") or []


@PROTOCOLS
async def test_a_session_subscribes_to_its_own_entitlements(world: World, protocol):
    async with connect(world.api.client, "/graphql", world.secret, protocol=protocol) as live:
        op = await live.subscribe(OWN % "customer { id } entitlements { nodes { lookupKey feature { id } } }",
                                  {"c": world.own.customer})
        payload = await live.next(op)
    assert not payload.get("errors"), payload
    summary = payload["data"]["activeEntitlementsChanged"]
    assert summary["customer"] == {"id": world.own.customer}
    assert summary["entitlements"]["nodes"] == [{"lookupKey": "sso", "feature": {"id": world.feature}}]


@PROTOCOLS
@pytest.mark.parametrize("query,other", [
    (OWN % "customer { id }", True),
    ("subscription { events { id } }", False),
    ('subscription { events(types: ["invoice.paid"]) { id } }', False),
    (OWN % "customer { testClock { id } }", False),
])
async def test_a_session_is_refused_other_subscriptions(world: World, protocol, query, other):
    variables = {"c": world.other.customer if other else world.own.customer} if "$c" in query else None
    async with connect(world.api.client, "/graphql", world.secret, protocol=protocol) as live:
        op = await live.subscribe(query, variables)
        errors = _errors(await live.message(op))
    assert errors and {k: errors[0]["extensions"][k] for k in FORBIDDEN} == FORBIDDEN, errors


async def test_every_field_of_the_summary_is_allowed_only_if_listed(world: World):
    """The types only subscriptions reach, walked as test_session_boundary walks the others."""
    checked = 0
    async with connect(world.api.client, "/graphql", world.secret) as live:
        for type_name in SUBSCRIBED:
            for name, field in schema._schema.type_map[type_name].fields.items():
                op = await live.subscribe(OWN % call(name, field), {"c": world.own.customer})
                message = await live.message(op)
                if name in SESSION_FIELDS[type_name]:
                    assert message["type"] == "next" and not message["payload"].get("errors"), (name, message)
                else:
                    assert _errors(message)[0]["extensions"]["type"] == "permission_error", (name, message)
                checked += 1
    assert checked >= 2


async def _session(world: World, expires_in: timedelta) -> str:
    secret = (await world.api.ok(SESSION, {"c": world.own.customer}))["createCustomerSession"]["clientSecret"]
    await CustomerSession.filter(customer_id=world.own.customer).update(expires_at=utcnow() + expires_in)
    forget_sessions()
    return secret


@PROTOCOLS
async def test_an_expired_session_is_refused_at_connection(world: World, protocol):
    secret = await _session(world, timedelta(seconds=-1))
    live = LiveClient(await world.api.client.ws_connect("/graphql", protocols=[protocol]), protocol)
    answer = await live.init(secret)
    assert answer.get("closed") == websockets.FORBIDDEN or answer.get("type") == "connection_error", answer
    await live.close()


async def test_a_connection_closes_when_its_session_expires(world: World):
    secret = await _session(world, timedelta(seconds=2))
    async with connect(world.api.client, "/graphql", secret) as live:
        op = await live.subscribe(OWN % "customer { id }", {"c": world.own.customer})
        assert not (await live.next(op)).get("errors")
        closed = await live.message(op, 5)
    assert closed["closed"] == websockets.FORBIDDEN
