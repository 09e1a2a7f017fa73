"""Coupons through the API: Stripe's creation rules, and redemption limits when a coupon is applied
to a customer with createCustomer(coupon) / updateCustomer(coupon)."""
import asyncio
from datetime import UTC, datetime, timedelta

import pytest

COUPON = """id deleted name amountOff currency percentOff duration durationInMonths maxRedemptions timesRedeemed
    redeemBy valid metadata appliesToProducts { id }"""
CREATE = "mutation($input: CreateCouponInput!) { createCoupon(input: $input) { " + COUPON + " } }"
UPDATE = "mutation($id: ID!, $input: UpdateCouponInput!) { updateCoupon(id: $id, input: $input) { " + COUPON + " } }"
READ = "query($id: ID!) { coupon(id: $id) { " + COUPON + " } }"
CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
    id discount { id start end coupon { id } customer { id } } } }"""
UPDATE_CUSTOMER = """mutation($id: ID!, $input: UpdateCustomerInput!) { updateCustomer(id: $id, input: $input) {
    id discount { id start end coupon { id } } } }"""
COUNTS = """{ coupons(first: 100) { nodes { id } } customers(first: 100) { nodes { id } }
    events(first: 100) { nodes { id } } }"""


async def counts(api) -> dict:
    return {key: len(value["nodes"]) for key, value in (await api.ok(COUNTS)).items()}


async def refused(api, query: str, variables: dict, code: str, param: str | None) -> dict:
    before = await counts(api)
    error = await api.error(query, variables)
    assert error["extensions"] == {"code": code, "type": "invalid_request_error", "param": param}, error
    assert await counts(api) == before
    return error


async def coupon(api, **fields) -> dict:
    return (await api.ok(CREATE, {"input": {"duration": "FOREVER", **fields}}))["createCoupon"]


def future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


async def test_percent_off(api):
    created = await coupon(api, percentOff="12.5", name="Spring")
    assert (created["percentOff"], created["amountOff"], created["currency"], created["duration"]) == (
        "12.5", None, None, "FOREVER")
    assert (created["timesRedeemed"], created["valid"], created["deleted"], created["name"]) == (0, True, False,
                                                                                                   "Spring")
    assert (await api.ok(READ, {"id": created["id"]}))["coupon"] == created
    assert (await coupon(api, percentOff="100"))["percentOff"] == "100"
    assert (await coupon(api, percentOff=0.5))["percentOff"] == "0.5"


@pytest.mark.parametrize("percent", ["0", "-5", "100.01", "101", "12.345"])
async def test_percent_off_is_within_0_and_100(api, percent):
    await refused(api, CREATE, {"input": {"duration": "ONCE", "percentOff": percent}}, "parameter_invalid",
                  "percentOff")


async def test_amount_off_needs_a_currency(api):
    await refused(api, CREATE, {"input": {"duration": "ONCE", "amountOff": 500}}, "parameter_missing", "currency")
    await refused(api, CREATE, {"input": {"duration": "ONCE", "amountOff": 500, "currency": "XYZ"}},
                  "parameter_invalid", "currency")
    await refused(api, CREATE, {"input": {"duration": "ONCE", "amountOff": 0, "currency": "usd"}},
                  "parameter_invalid", "amountOff")
    await refused(api, CREATE, {"input": {"duration": "ONCE", "amountOff": -1, "currency": "usd"}},
                  "parameter_invalid", "amountOff")
    created = await coupon(api, amountOff=500, currency="EUR")
    assert (created["amountOff"], created["currency"], created["percentOff"]) == (500, "eur", None)


async def test_exactly_one_of_percent_off_or_amount_off(api):
    await refused(api, CREATE, {"input": {"duration": "ONCE"}}, "parameter_missing", "percentOff")
    await refused(api, CREATE, {"input": {"duration": "ONCE", "percentOff": "10", "amountOff": 5, "currency": "usd"}},
                  "parameter_invalid", "amountOff")


async def test_duration_rules(api):
    await refused(api, CREATE, {"input": {"duration": "REPEATING", "percentOff": "10"}}, "parameter_missing",
                  "durationInMonths")
    await refused(api, CREATE, {"input": {"duration": "REPEATING", "percentOff": "10", "durationInMonths": 0}},
                  "parameter_invalid", "durationInMonths")
    await refused(api, CREATE, {"input": {"duration": "ONCE", "percentOff": "10", "durationInMonths": 3}},
                  "parameter_invalid", "durationInMonths")
    repeating = await coupon(api, duration="REPEATING", durationInMonths=3, percentOff="10")
    assert (repeating["duration"], repeating["durationInMonths"]) == ("REPEATING", 3)


async def test_redeem_by_must_be_in_the_future(api):
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    await refused(api, CREATE, {"input": {"duration": "ONCE", "percentOff": "10", "redeemBy": past}},
                  "parameter_invalid", "redeemBy")
    when = future()
    created = await coupon(api, percentOff="10", redeemBy=when)
    assert datetime.fromisoformat(created["redeemBy"]) == datetime.fromisoformat(when)
    naive = await coupon(api, percentOff="10", redeemBy="2040-01-01T00:00:00")  # no offset: UTC
    assert naive["redeemBy"] == "2040-01-01T00:00:00+00:00"
    await refused(api, CREATE, {"input": {"duration": "ONCE", "percentOff": "10", "redeemBy": "2000-01-01T00:00:00"}},
                  "parameter_invalid", "redeemBy")
    error = await api.error(CREATE, {"input": {"duration": "ONCE", "percentOff": "10", "redeemBy": "soon"}})
    assert error["extensions"]["type"] == "invalid_request_error", error


async def test_ids_and_other_rules(api):
    custom = await coupon(api, id="SUMMER-25", percentOff="25")
    assert custom["id"] == "SUMMER-25"
    generated = await coupon(api, percentOff="5")
    assert generated["id"] and generated["id"] != "SUMMER-25"
    existing = await api.error(CREATE, {"input": {"duration": "ONCE", "id": "SUMMER-25", "percentOff": "1"}})
    assert existing["extensions"] == {"code": "resource_already_exists", "type": "invalid_request_error",
                                      "param": "id"}
    await refused(api, CREATE, {"input": {"duration": "ONCE", "id": "no spaces", "percentOff": "1"}},
                  "parameter_invalid", "id")
    await refused(api, CREATE, {"input": {"duration": "ONCE", "id": "C" * 65, "percentOff": "1"}},
                  "parameter_invalid", "id")
    assert (await coupon(api, id="C" * 64, percentOff="1"))["id"] == "C" * 64
    await refused(api, CREATE, {"input": {"duration": "ONCE", "percentOff": "1", "maxRedemptions": 0}},
                  "parameter_invalid", "maxRedemptions")
    await refused(api, CREATE, {"input": {"duration": "ONCE", "percentOff": "1", "name": "n" * 41}},
                  "parameter_invalid", "name")
    await refused(api, CREATE, {"input": {"duration": "ONCE", "percentOff": "1", "appliesToProducts": ["prod_nope"]}},
                  "resource_missing", "appliesToProducts.0")
    prod = (await api.ok('mutation { createProduct(input: {name: "Pro"}) { id } }'))["createProduct"]["id"]
    scoped = await coupon(api, percentOff="1", appliesToProducts=[prod])
    assert scoped["appliesToProducts"] == [{"id": prod}]


async def test_unknown_coupon(api):
    assert (await api.ok('{ coupon(id: "nope") { id } }'))["coupon"] is None
    await refused(api, UPDATE, {"id": "nope", "input": {"name": "x"}}, "resource_missing", "id")
    await refused(api, 'mutation { deleteCoupon(id: "nope") { id } }', {}, "resource_missing", "id")
    cus = (await api.ok(CREATE_CUSTOMER, {"input": {}}))["createCustomer"]["id"]
    await refused(api, UPDATE_CUSTOMER, {"id": cus, "input": {"coupon": "nope"}}, "resource_missing", "coupon")


async def test_update_and_delete(api):
    created = await coupon(api, percentOff="10", name="Old", metadata={"a": "1"})
    updated = (await api.ok(UPDATE, {"id": created["id"], "input": {"name": "New", "metadata": {"b": "2"}}}))
    assert updated["updateCoupon"]["name"] == "New" and updated["updateCoupon"]["metadata"] == {"a": "1", "b": "2"}
    assert updated["updateCoupon"]["percentOff"] == "10"
    error = await api.error(UPDATE, {"id": created["id"], "input": {"percentOff": "20"}})
    assert error["extensions"]["type"] == "invalid_request_error"
    deleted = await api.ok("mutation($id: ID!) { deleteCoupon(id: $id) { id deleted } }", {"id": created["id"]})
    assert deleted["deleteCoupon"] == {"id": created["id"], "deleted": True}
    read = (await api.ok(READ, {"id": created["id"]}))["coupon"]
    assert (read["deleted"], read["valid"]) == (True, False)
    assert (await api.ok("{ coupons { nodes { id } } }"))["coupons"]["nodes"] == []
    await refused(api, CREATE_CUSTOMER, {"input": {"coupon": created["id"]}}, "resource_missing", "coupon")
    types = [e["type"] for e in (await api.ok("{ events { nodes { type } } }"))["events"]["nodes"]]
    assert sorted(types) == ["coupon.created", "coupon.deleted", "coupon.updated"]


async def test_max_redemptions_are_enforced(api):
    limited = await coupon(api, id="TWICE", percentOff="50", maxRedemptions=2)
    first = (await api.ok(CREATE_CUSTOMER, {"input": {"coupon": "TWICE"}}))["createCustomer"]
    assert first["discount"]["coupon"] == {"id": "TWICE"}
    assert first["discount"]["customer"] == {"id": first["id"]}
    assert first["discount"]["id"].startswith("di_") and first["discount"]["end"] is None
    second = (await api.ok(CREATE_CUSTOMER, {"input": {}}))["createCustomer"]
    applied = await api.ok(UPDATE_CUSTOMER, {"id": second["id"], "input": {"coupon": "TWICE"}})
    assert applied["updateCustomer"]["discount"]["coupon"] == {"id": "TWICE"}
    read = (await api.ok(READ, {"id": limited["id"]}))["coupon"]
    assert (read["timesRedeemed"], read["valid"]) == (2, False)
    await refused(api, CREATE_CUSTOMER, {"input": {"email": "third@example.com", "coupon": "TWICE"}},
                  "parameter_invalid", "coupon")
    third = (await api.ok(CREATE_CUSTOMER, {"input": {}}))["createCustomer"]
    await refused(api, UPDATE_CUSTOMER, {"id": third["id"], "input": {"coupon": "TWICE"}}, "parameter_invalid",
                  "coupon")
    assert (await api.ok(READ, {"id": "TWICE"}))["coupon"]["timesRedeemed"] == 2
    discount = (await api.ok("query($id: ID!) { customer(id: $id) { discount { id } } }", {"id": third["id"]}))
    assert discount["customer"]["discount"] is None


async def test_discounts_replace_and_end(api):
    await coupon(api, id="TEN", percentOff="10")
    await coupon(api, id="THREE-MONTHS", duration="REPEATING", durationInMonths=3, amountOff=100, currency="usd")
    cus = (await api.ok(CREATE_CUSTOMER, {"input": {"coupon": "TEN"}}))["createCustomer"]
    replaced = (await api.ok(UPDATE_CUSTOMER, {"id": cus["id"], "input": {"coupon": "THREE-MONTHS"}}))
    discount = replaced["updateCustomer"]["discount"]
    assert discount["coupon"] == {"id": "THREE-MONTHS"}
    start, end = datetime.fromisoformat(discount["start"]), datetime.fromisoformat(discount["end"])
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == 3
    removed = await api.ok(UPDATE_CUSTOMER, {"id": cus["id"], "input": {"coupon": None}})
    assert removed["updateCustomer"]["discount"] is None
    kept = await api.ok(UPDATE_CUSTOMER, {"id": cus["id"], "input": {"coupon": "TEN"}})
    assert kept["updateCustomer"]["discount"]["coupon"] == {"id": "TEN"}
    await api.ok(UPDATE_CUSTOMER, {"id": cus["id"], "input": {"name": "unrelated"}})  # omitted coupon: unchanged
    read = await api.ok("query($id: ID!) { customer(id: $id) { discount { coupon { id } } } }", {"id": cus["id"]})
    assert read["customer"]["discount"] == {"coupon": {"id": "TEN"}}
    assert (await api.ok(READ, {"id": "TEN"}))["coupon"]["timesRedeemed"] == 2
    events = (await api.ok('{ events(type: "customer.discount.*") { nodes { type data } } }'))["events"]["nodes"]
    by_type = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event["data"])
    assert {t: len(e) for t, e in by_type.items()} == {
        "customer.discount.created": 2, "customer.discount.updated": 1, "customer.discount.deleted": 1}
    assert {d["object"]["coupon"] for d in by_type["customer.discount.created"]} == {"TEN"}
    switched = by_type["customer.discount.updated"][0]  # Stripe: a customer switched from one coupon to another
    assert (switched["object"]["coupon"], switched["previous_attributes"]["coupon"]) == ("THREE-MONTHS", "TEN")
    assert switched["object"]["end"] is not None and switched["previous_attributes"]["end"] is None
    assert by_type["customer.discount.deleted"][0]["object"]["coupon"] == "THREE-MONTHS"
    assert all(d["object"]["customer"] == cus["id"] for ds in by_type.values() for d in ds)


async def test_max_redemptions_hold_under_concurrent_redemptions(pg_api):
    """PostgreSQL: the coupon row is locked while redemptions are counted (SQLite ignores row locks)."""
    await pg_api.ok('mutation { createCoupon(input: {id: "RACE", duration: ONCE, percentOff: "5", '
                    "maxRedemptions: 3}) { id } }")
    query = "mutation { createCustomer(input: {coupon: \"RACE\"}) { id } }"
    results = await asyncio.gather(*(pg_api.post(query) for _ in range(8)))
    succeeded = [body for _, body in results if not body.get("errors")]
    refused = [body["errors"][0]["extensions"] for _, body in results if body.get("errors")]
    assert len(succeeded) == 3
    assert refused == [{"code": "parameter_invalid", "type": "invalid_request_error", "param": "coupon"}] * 5
    data = await pg_api.ok('{ coupon(id: "RACE") { timesRedeemed valid } customers { nodes { id } } }')
    assert data["coupon"] == {"timesRedeemed": 3, "valid": False}
    assert len(data["customers"]["nodes"]) == 3
