"""Entitlements end to end on test clocks, with a real worker and a websocket subscriber: a feature attached to
(or removed from) a product mid-period reaches the subscription at its next period. (Subscribe, upgrade and
failed payments until canceled, with the webhook too: tests/webhooks/test_entitlements_webhook_e2e.py.)"""
from datetime import UTC, datetime, timedelta

from tests.billing_flows import START, advance, create_clock, create_customer, subscribe
from tests.entitlement_flows import LIVE_ENTITLEMENTS, attach, feature, live_keys, lookup_keys, plan
from tests.live_client import connect


async def test_a_feature_attached_or_removed_mid_period_applies_from_the_next_period(api, run_worker):
    clock = await create_clock(api)
    price, product = await plan(api, "Pro", ["sso"])
    customer = await create_customer(api, clock)
    await subscribe(api, customer, price)
    async with connect(api.client, "/graphql", api.secret) as live:
        op = await live.subscribe(LIVE_ENTITLEMENTS, {"c": customer})
        assert live_keys(await live.next(op)) == {"sso"}

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
        assert live_keys(await live.next(op)) == {"sso", "audit"}

        sso = next(n for n in (await api.ok("""query($p: ID!) { product(id: $p) { features {
            nodes { id entitlementFeature { lookupKey } } } } }""", {"p": product}))["product"]["features"]["nodes"]
            if n["entitlementFeature"]["lookupKey"] == "sso")
        await api.ok("mutation($p: ID!, $id: ID!) { deleteProductFeature(product: $p, id: $id) { id } }",
                     {"p": product, "id": sso["id"]})
        await advance(api, run_worker, clock, renewal + timedelta(days=10))
        await live.nothing(op)
        assert await lookup_keys(api, customer) == {"sso", "audit"}

        await advance(api, run_worker, clock, datetime(2026, 3, 31, 12, tzinfo=UTC))
        assert live_keys(await live.next(op)) == {"audit"}
