"""Active entitlements through HTTP: stored and recomputed with each subscription change, one summary event
per change (Stripe's JSON, at most 10 listed), and concurrent changes of one customer serialized."""
import asyncio

from tests.billing_flows import create_customer, subscribe
from tests.entitlement_flows import ENTITLEMENTS, attach, keys_of, lookup_keys, plan, summaries

CANCEL = "mutation($id: ID!) { cancelSubscription(id: $id) { status } }"
UPDATE = """mutation($id: ID!, $input: UpdateSubscriptionInput!) {
  updateSubscription(id: $id, input: $input) { status } }"""


async def test_subscribing_grants_the_products_features_once_with_one_event(api):
    price, product = await plan(api, "Pro", ["sso", "audit"])
    customer = await create_customer(api, None)
    assert await lookup_keys(api, customer) == set()
    await subscribe(api, customer, price)
    assert await lookup_keys(api, customer) == {"sso", "audit"}
    data = await api.ok(ENTITLEMENTS, {"c": customer})
    node = data["activeEntitlements"]["nodes"][0]
    assert node["id"].startswith("ent_") and node["feature"]["lookupKey"] == node["lookupKey"]
    [summary] = await summaries(api, customer)
    assert summary["object"]["object"] == "entitlements.active_entitlement_summary"
    assert summary["object"]["entitlements"]["has_more"] is False
    assert keys_of(summary["object"]) == {"sso", "audit"}
    assert summary["previous_attributes"]["entitlements"]["data"] == []
    entitlement = summary["object"]["entitlements"]["data"][0]
    assert entitlement["object"] == "entitlements.active_entitlement" and entitlement["feature"].startswith("feat_")
    customer_view = await api.ok("query($c: ID!) { customer(id: $c) { activeEntitlements { nodes { lookupKey } } } }",
                                 {"c": customer})
    assert {n["lookupKey"] for n in customer_view["customer"]["activeEntitlements"]["nodes"]} == {"sso", "audit"}


async def test_a_feature_on_two_subscriptions_counts_once_and_stays_while_one_grants_it(api):
    basic, _ = await plan(api, "Basic", ["reports"])
    addon, addon_product = await plan(api, "Addon", ["api"])
    customer = await create_customer(api, None)
    first = await subscribe(api, customer, basic)
    reports = (await api.ok(ENTITLEMENTS, {"c": customer}))["activeEntitlements"]["nodes"][0]["feature"]["id"]
    await attach(api, addon_product, reports)  # the add-on grants reports too
    second = await subscribe(api, customer, addon)
    data = await api.ok(ENTITLEMENTS, {"c": customer})
    assert sorted(n["lookupKey"] for n in data["activeEntitlements"]["nodes"]) == ["api", "reports"]
    await api.ok(CANCEL, {"id": first["id"]})
    assert await lookup_keys(api, customer) == {"api", "reports"}
    assert len(await summaries(api, customer)) == 2  # the cancel changed nothing: no event
    await api.ok(CANCEL, {"id": second["id"]})
    assert await lookup_keys(api, customer) == set()
    last = (await summaries(api, customer))[-1]
    assert keys_of(last["object"]) == set() and keys_of(last["previous_attributes"]) == {"api", "reports"}


async def test_upgrade_downgrade_pause_and_resume_move_them_at_once(api):
    basic, _ = await plan(api, "Basic", ["reports"], 1000)
    pro, _ = await plan(api, "Pro", ["reports-pro", "sso"], 3000)
    customer = await create_customer(api, None)
    sub = await subscribe(api, customer, basic)
    item = sub["items"]["nodes"][0]["id"]
    await api.ok(UPDATE, {"id": sub["id"], "input": {"items": [{"id": item, "price": pro}]}})
    assert await lookup_keys(api, customer) == {"reports-pro", "sso"}
    await api.ok(UPDATE, {"id": sub["id"], "input": {"items": [{"id": item, "price": basic}]}})
    assert await lookup_keys(api, customer) == {"reports"}
    await api.ok("mutation($id: ID!) { pauseSubscription(id: $id) { status } }", {"id": sub["id"]})
    assert await lookup_keys(api, customer) == set()
    await api.ok("mutation($id: ID!) { resumeSubscription(id: $id) { status } }", {"id": sub["id"]})
    assert await lookup_keys(api, customer) == {"reports"}
    assert [keys_of(s["object"]) for s in await summaries(api, customer)] == [
        {"reports"}, {"reports-pro", "sso"}, {"reports"}, set(), {"reports"}]


async def test_archived_features_still_attached_count(api):
    price, _ = await plan(api, "Pro", ["legacy"])
    customer = await create_customer(api, None)
    await subscribe(api, customer, price)
    legacy = (await api.ok(ENTITLEMENTS, {"c": customer}))["activeEntitlements"]["nodes"][0]["feature"]["id"]
    await api.ok("mutation($f: ID!) { updateFeature(id: $f, input: {active: false}) { id } }", {"f": legacy})
    other = await create_customer(api, None)
    await subscribe(api, other, price)
    data = await api.ok(ENTITLEMENTS, {"c": other})
    assert [(n["lookupKey"], n["feature"]["active"]) for n in data["activeEntitlements"]["nodes"]] == [
        ("legacy", False)]


async def test_an_incomplete_subscription_grants_nothing_until_paid(api):
    price, _ = await plan(api, "Pro", ["sso"])
    customer = await create_customer(api, None, card="pm_card_chargeCustomerFail")
    sub = await subscribe(api, customer, price)
    assert sub["status"] == "INCOMPLETE"
    assert await lookup_keys(api, customer) == set() and await summaries(api, customer) == []
    pm = (await api.ok("mutation($c: ID!) { attachPaymentMethod(customer: $c, paymentMethod: \"pm_card_visa\") "
                       "{ id } }", {"c": customer}))["attachPaymentMethod"]["id"]
    await api.ok("mutation($id: ID!, $pm: ID) { payInvoice(id: $id, input: {paymentMethod: $pm}) { status } }",
                 {"id": sub["latestInvoice"]["id"], "pm": pm})
    assert await lookup_keys(api, customer) == {"sso"}


async def test_the_summary_lists_ten_and_says_there_are_more(api):
    keys = [f"f{i:02}" for i in range(12)]
    price, _ = await plan(api, "Everything", keys)
    customer = await create_customer(api, None)
    await subscribe(api, customer, price)
    [summary] = await summaries(api, customer)
    listed = summary["object"]["entitlements"]
    assert len(listed["data"]) == 10 and listed["has_more"] is True
    assert await lookup_keys(api, customer) == set(keys)
    page = await api.ok("query($c: ID!) { activeEntitlements(customer: $c, first: 5) { pageInfo { hasNextPage } "
                        "nodes { lookupKey } } }", {"c": customer})
    assert len(page["activeEntitlements"]["nodes"]) == 5 and page["activeEntitlements"]["pageInfo"]["hasNextPage"]


async def test_an_unknown_customer_is_resource_missing(api):
    error = await api.error(ENTITLEMENTS, {"c": "cus_missing"})
    assert error["extensions"]["code"] == "resource_missing" and error["extensions"]["param"] == "customer"


async def test_concurrent_cancels_of_one_customer_end_with_nothing(pg_api):
    """Two transactions each cancel one of the customer's subscriptions: without serializing the recomputes,
    each would see the other's subscription still active and keep its features."""
    api = pg_api
    for _ in range(3):
        first, _ = await plan(api, "A", [f"a{_}"])
        second, _ = await plan(api, "B", [f"b{_}"])
        customer = await create_customer(api, None)
        subs = [await subscribe(api, customer, first), await subscribe(api, customer, second)]
        assert len(await lookup_keys(api, customer)) == 2
        await asyncio.gather(*(api.ok(CANCEL, {"id": s["id"]}) for s in subs))
        assert await lookup_keys(api, customer) == set()
        assert keys_of((await summaries(api, customer))[-1]["object"]) == set()

