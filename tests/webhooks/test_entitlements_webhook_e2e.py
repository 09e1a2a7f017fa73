"""Entitlements end to end on a test clock, with a real worker, a websocket subscriber and a webhook endpoint:
they appear on subscribing, change with an upgrade, stay while payments fail and go when the subscription is
canceled for it; each change reaches the live subscriber and the webhook (verified with Stripe's library)."""
from datetime import UTC, datetime, timedelta

import stripe

from tests.billing_flows import START, advance, create_clock, create_customer, subscribe
from tests.e2e.test_payment_failures import FAIL, switch_default_card
from tests.entitlement_flows import LIVE_ENTITLEMENTS, keys_of, live_keys, lookup_keys, plan, summaries
from tests.live_client import connect
from tests.webhooks.hooks import create_endpoint, deliveries

SUMMARY = "entitlements.active_entitlement_summary.updated"
UPDATE = """mutation($id: ID!, $input: UpdateSubscriptionInput!) {
  updateSubscription(id: $id, input: $input) { status } }"""


async def status(api, sub: str) -> str:
    return (await api.ok("query($id: ID!) { subscription(id: $id) { status } }", {"id": sub}))["subscription"]["status"]


def hooked(receiver, secret: str, customer: str) -> list[set[str]]:
    """The entitlement sets the webhook received for the customer, in arrival order (signatures verified)."""
    events = [stripe.Webhook.construct_event(r.body.decode(), r.headers["Stripe-Signature"], secret)
              for r in receiver.received]
    assert {e.type for e in events} <= {SUMMARY}
    return [keys_of(e.data.object.to_dict()) for e in events if e.data.object.customer == customer]


async def test_subscribe_upgrade_then_failed_payments_until_canceled(hook_api, receiver, run_worker):
    api = hook_api
    endpoint = await create_endpoint(api, receiver.url(), [SUMMARY])
    clock = await create_clock(api)
    basic, _ = await plan(api, "Basic", ["reports"], 1000)
    pro, _ = await plan(api, "Pro", ["reports-pro", "sso"], 3000)
    customer = await create_customer(api, clock)
    async with connect(api.client, "/graphql", api.secret) as live:
        op = await live.subscribe(LIVE_ENTITLEMENTS, {"c": customer})
        assert live_keys(await live.next(op)) == set()

        sub = await subscribe(api, customer, basic)
        assert live_keys(await live.next(op)) == {"reports"}
        await run_worker()
        assert hooked(receiver, endpoint["secret"], customer) == [{"reports"}]

        item = sub["items"]["nodes"][0]["id"]
        await api.ok(UPDATE, {"id": sub["id"], "input": {"items": [{"id": item, "price": pro}]}})
        assert live_keys(await live.next(op)) == {"reports-pro", "sso"}
        await run_worker()
        assert hooked(receiver, endpoint["secret"], customer) == [{"reports"}, {"reports-pro", "sso"}]

        await switch_default_card(api, customer, FAIL)
        first_attempt = datetime(2026, 2, 28, 13, tzinfo=UTC)
        await advance(api, run_worker, clock, first_attempt)
        assert await status(api, sub["id"]) == "PAST_DUE"
        assert await lookup_keys(api, customer) == {"reports-pro", "sso"}  # past due still grants them
        await advance(api, run_worker, clock, first_attempt + timedelta(days=7))
        await live.nothing(op)

        await advance(api, run_worker, clock, first_attempt + timedelta(days=14))  # the last attempt fails
        assert await status(api, sub["id"]) == "CANCELED"
        assert live_keys(await live.next(op)) == set()
        await live.nothing(op)
    await run_worker()
    assert hooked(receiver, endpoint["secret"], customer) == [{"reports"}, {"reports-pro", "sso"}, set()]
    assert await lookup_keys(api, customer) == set()
    ours = await summaries(api, customer)
    assert [keys_of(s["object"]) for s in ours] == [{"reports"}, {"reports-pro", "sso"}, set()]
    logged = await deliveries(api, endpoint["id"])
    assert [d["event"]["type"] for d in logged] == [SUMMARY] * 3
    assert all(d["succeeded"] and d["attempts"] == 1 for d in logged)
    data = await api.ok(f"""query {{ events(first: 100, type: "{SUMMARY}") {{ nodes {{ created data }} }} }}""")
    created = [n["created"] for n in reversed(data["events"]["nodes"]) if n["data"]["object"]["customer"] == customer]
    assert created == [START.isoformat(), START.isoformat(), (first_attempt + timedelta(days=14)).isoformat()]
