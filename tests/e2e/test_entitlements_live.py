"""Entitlements end to end on test clocks, with a real worker and a websocket subscriber: they appear on
subscribing (live message and event), change with an upgrade, stay while payments fail and go when the
subscription is canceled for it; a feature attached to (or removed from) a product mid-period reaches the
subscription at its next period."""
from datetime import UTC, datetime, timedelta

from tests.billing_flows import START, advance, create_clock, create_customer, subscribe
from tests.e2e.test_payment_failures import FAIL, switch_default_card
from tests.entitlement_flows import attach, feature, keys_of, lookup_keys, plan, summaries
from tests.live_client import connect

ENTITLEMENTS = """subscription($c: ID!) { activeEntitlementsChanged(customer: $c) {
  entitlements(first: 100) { nodes { lookupKey } } } }"""
UPDATE = """mutation($id: ID!, $input: UpdateSubscriptionInput!) {
  updateSubscription(id: $id, input: $input) { status } }"""
STATUS = "query($id: ID!) { subscription(id: $id) { status } }"


def keys(payload: dict) -> set[str]:
    assert not payload.get("errors"), payload
    return {n["lookupKey"] for n in payload["data"]["activeEntitlementsChanged"]["entitlements"]["nodes"]}


async def status(api, sub: str) -> str:
    return (await api.ok(STATUS, {"id": sub}))["subscription"]["status"]


async def test_subscribe_upgrade_then_failed_payments_until_canceled(api, run_worker):
    clock = await create_clock(api)
    basic, _ = await plan(api, "Basic", ["reports"], 1000)
    pro, _ = await plan(api, "Pro", ["reports-pro", "sso"], 3000)
    customer = await create_customer(api, clock)
    async with connect(api.client, "/graphql", api.secret) as live:
        op = await live.subscribe(ENTITLEMENTS, {"c": customer})
        assert keys(await live.next(op)) == set()

        sub = await subscribe(api, customer, basic)
        assert keys(await live.next(op)) == {"reports"}
        [event] = await summaries(api, customer)
        assert keys_of(event["object"]) == {"reports"}

        item = sub["items"]["nodes"][0]["id"]
        await api.ok(UPDATE, {"id": sub["id"], "input": {"items": [{"id": item, "price": pro}]}})
        assert keys(await live.next(op)) == {"reports-pro", "sso"}

        await switch_default_card(api, customer, FAIL)
        first_attempt = datetime(2026, 2, 28, 13, tzinfo=UTC)
        await advance(api, run_worker, clock, first_attempt)
        assert await status(api, sub["id"]) == "PAST_DUE"
        assert await lookup_keys(api, customer) == {"reports-pro", "sso"}  # past due still grants them
        await advance(api, run_worker, clock, first_attempt + timedelta(days=7))
        await live.nothing(op)

        await advance(api, run_worker, clock, first_attempt + timedelta(days=14))  # the last attempt fails
        assert await status(api, sub["id"]) == "CANCELED"
        assert keys(await live.next(op)) == set()
        await live.nothing(op)
    assert await lookup_keys(api, customer) == set()
    data = await api.ok("""query { events(first: 100, type: "entitlements.active_entitlement_summary.updated") {
        nodes { created data } } }""")
    ours = [n for n in reversed(data["events"]["nodes"]) if n["data"]["object"]["customer"] == customer]
    assert [keys_of(n["data"]["object"]) for n in ours] == [{"reports"}, {"reports-pro", "sso"}, set()]
    assert [n["created"] for n in ours] == [START.isoformat(), START.isoformat(),
                                           (first_attempt + timedelta(days=14)).isoformat()]


async def test_a_feature_attached_or_removed_mid_period_applies_from_the_next_period(api, run_worker):
    clock = await create_clock(api)
    price, product = await plan(api, "Pro", ["sso"])
    customer = await create_customer(api, clock)
    await subscribe(api, customer, price)
    async with connect(api.client, "/graphql", api.secret) as live:
        op = await live.subscribe(ENTITLEMENTS, {"c": customer})
        assert keys(await live.next(op)) == {"sso"}

        await advance(api, run_worker, clock, START + timedelta(days=10))
        await attach(api, product, await feature(api, "audit"))
        newcomer = await create_customer(api, clock)
        await subscribe(api, newcomer, price)
        assert await lookup_keys(api, newcomer) == {"sso", "audit"}  # a new subscription starts with them
        await advance(api, run_worker, clock, START + timedelta(days=20))
        await live.nothing(op)
        assert await lookup_keys(api, customer) == {"sso"}

        renewal = datetime(2026, 2, 28, 12, tzinfo=UTC)
        await advance(api, run_worker, clock, renewal)
        assert keys(await live.next(op)) == {"sso", "audit"}

        sso = next(n for n in (await api.ok("""query($p: ID!) { product(id: $p) { features {
            nodes { id entitlementFeature { lookupKey } } } } }""", {"p": product}))["product"]["features"]["nodes"]
            if n["entitlementFeature"]["lookupKey"] == "sso")
        await api.ok("mutation($p: ID!, $id: ID!) { deleteProductFeature(product: $p, id: $id) { id } }",
                     {"p": product, "id": sso["id"]})
        await advance(api, run_worker, clock, renewal + timedelta(days=10))
        await live.nothing(op)
        assert await lookup_keys(api, customer) == {"sso", "audit"}

        await advance(api, run_worker, clock, datetime(2026, 3, 31, 12, tzinfo=UTC))
        assert keys(await live.next(op)) == {"audit"}
