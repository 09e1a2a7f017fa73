"""GraphQL subscriptions over websockets at /graphql, in both protocols: authentication in connection_init,
activeEntitlementsChanged (the current list at once, then after each change) and events(types)."""
import asyncio
from datetime import timedelta

import pytest

from app import websockets
from app.billing.events import atomic
from app.billing.subscriptions import create_subscription
from app.http import BillingGraphQLView
from tests.api.test_read_cache import cached, until  # noqa: F401 - the fixture, on a Redis of its own
from tests.billing_flows import create_customer, subscribe
from tests.entitlement_flows import plan
from tests.live_client import LEGACY_WS, TRANSPORT_WS, LiveClient, connect

ENTITLEMENTS = """subscription($c: ID!) { activeEntitlementsChanged(customer: $c) {
  customer { id } entitlements(first: 100) { nodes { lookupKey feature { id active } } } } }"""
EVENTS = "subscription($t: [String!]) { events(types: $t) { id type created data } }"
CANCEL = "mutation($id: ID!) { cancelSubscription(id: $id) { status } }"
PROTOCOLS = pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])


def keys(payload: dict) -> set[str]:
    assert not payload.get("errors"), payload
    return {n["lookupKey"] for n in payload["data"]["activeEntitlementsChanged"]["entitlements"]["nodes"]}


async def _raw(api, protocol: str) -> LiveClient:
    return LiveClient(await api.client.ws_connect("/graphql", protocols=[protocol]), protocol)


@PROTOCOLS
async def test_entitlements_are_sent_at_once_then_after_each_change(api, protocol):
    price, _ = await plan(api, "Pro", ["sso", "audit"])
    customer = await create_customer(api, None)
    async with connect(api.client, "/graphql", api.secret, protocol=protocol) as live:
        op = await live.subscribe(ENTITLEMENTS, {"c": customer})
        first = await live.next(op)
        assert keys(first) == set()
        assert first["data"]["activeEntitlementsChanged"]["customer"] == {"id": customer}
        sub = await subscribe(api, customer, price)
        assert keys(await live.next(op)) == {"sso", "audit"}
        await api.ok(CANCEL, {"id": sub["id"]})
        assert keys(await live.next(op)) == set()
        await live.nothing(op)


async def test_a_change_of_another_customer_sends_nothing(api):
    price, _ = await plan(api, "Pro", ["sso"])
    watched, other = await create_customer(api, None), await create_customer(api, None)
    async with connect(api.client, "/graphql", api.secret) as live:
        op = await live.subscribe(ENTITLEMENTS, {"c": watched})
        assert keys(await live.next(op)) == set()
        await subscribe(api, other, price)
        await live.nothing(op, 0.5)


@PROTOCOLS
async def test_events_stream_as_recorded_filtered_by_type(api, protocol):
    async with connect(api.client, "/graphql", api.secret, protocol=protocol) as live:
        every = await live.subscribe(EVENTS)
        customers_only = await live.subscribe(EVENTS, {"t": ["customer.*"]})
        products_only = await live.subscribe(EVENTS, {"t": ["product.created"]})
        customer = await create_customer(api, None, card=None)
        first = await _event_of(live, every, customer)
        assert first["type"] == "customer.created"
        assert (await _event_of(live, customers_only, customer))["id"] == first["id"]
        price, product = await plan(api, "Pro", [])
        assert (await _event_of(live, products_only, product))["type"] == "product.created"


async def _event_of(live: LiveClient, op: str, object_id: str) -> dict:
    """The operation's next event about `object_id` (a Redis server may carry other test runs' events)."""
    while True:
        event = (await live.next(op))["data"]["events"]
        if event["data"]["object"].get("id") == object_id:
            return event


async def test_an_unknown_customer_is_an_error_with_stripe_fields(api):
    async with connect(api.client, "/graphql", api.secret) as live:
        op = await live.subscribe(ENTITLEMENTS, {"c": "cus_missing"})
        message = await live.message(op)
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "resource_missing", message


@PROTOCOLS
@pytest.mark.parametrize("secret", ["sk_test_wrong", None])
async def test_a_wrong_or_missing_secret_is_closed_without_ack(api, protocol, secret):
    live = await _raw(api, protocol)
    answer = await live.init(secret)
    if protocol == TRANSPORT_WS:
        assert answer == {"closed": websockets.FORBIDDEN, "reason": "Forbidden"}
    else:
        assert answer["type"] == "connection_error"
        assert "closed" in await live.receive()
    await live.close()


@PROTOCOLS
async def test_a_connection_that_never_initialises_is_closed(api, protocol, monkeypatch):
    short = timedelta(seconds=0.3)
    monkeypatch.setattr(websockets, "INIT_TIMEOUT", short)
    view = next(r.handler for r in api.client.app.router.routes() if isinstance(r.handler, BillingGraphQLView))
    monkeypatch.setattr(view, "connection_init_wait_timeout", short)
    live = await _raw(api, protocol)
    while (answer := await live.receive(5)).get("type") == "ka":
        pass
    assert answer.get("closed") == websockets.INIT_TIMED_OUT, answer
    await live.close()


async def test_a_subscription_before_init_is_refused(api):
    live = await _raw(api, TRANSPORT_WS)
    await live.ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}})
    assert (await live.receive())["closed"] == 4401
    await live.close()


async def test_entitlements_are_sent_again_when_the_redis_subscription_comes_back(cached):  # noqa: F811
    """A change the process did not hear of while it had no Redis subscription still reaches its subscribers
    when the subscription is back."""
    api = cached.api
    price, _ = await plan(api, "Pro", ["sso"])
    customer = await create_customer(api, None)
    await cached.live()
    async with connect(api.client, "/graphql", api.secret) as live:
        op = await live.subscribe(ENTITLEMENTS, {"c": customer})
        assert keys(await live.next(op)) == set()
        await asyncio.to_thread(cached.server.stop)
        await until(lambda: not cached.cache.live)
        async with atomic():  # committed while the process hears nothing (and never dispatched)
            await create_subscription(customer=customer, items=[{"price": price}])
        await asyncio.to_thread(cached.server.start)
        assert keys(await live.next(op, 15)) == {"sso"}
