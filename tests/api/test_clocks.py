"""Test clocks through the API: create, read, list newest first, delete (which deletes their customers)."""
import asyncio
from datetime import UTC, datetime

CLOCK = "id name frozenTime status created"
CREATE = "mutation($input: CreateTestClockInput!) { createTestClock(input: $input) { " + CLOCK + " } }"
DELETE = "mutation($id: ID!) { deleteTestClock(id: $id) { id deleted } }"
READ = "query($id: ID!) { testClock(id: $id) { " + CLOCK + " } }"


async def clock(api, frozen_time: str = "2031-03-01T12:00:00Z", name: str | None = None) -> dict:
    return (await api.ok(CREATE, {"input": {"frozenTime": frozen_time, "name": name}}))["createTestClock"]


async def test_create_and_read(api):
    created = await clock(api, "2031-03-01T12:30:45.678Z", "Renewals")
    assert created["id"].startswith("clock_")
    assert (created["name"], created["status"]) == ("Renewals", "READY")
    assert created["frozenTime"] == "2031-03-01T12:30:45+00:00"  # whole seconds, UTC, as Stripe
    assert (await api.ok(READ, {"id": created["id"]}))["testClock"] == created
    other_zone = await clock(api, "2031-03-01T14:00:00+02:00")
    assert other_zone["frozenTime"] == "2031-03-01T12:00:00+00:00"
    assert (await clock(api, "2031-03-01T12:00:00"))["frozenTime"] == "2031-03-01T12:00:00+00:00"  # no offset: UTC
    event = (await api.ok('{ events(type: "test_helpers.test_clock.created") { nodes { data } } }'))
    objects = {n["data"]["object"]["id"]: n["data"]["object"] for n in event["events"]["nodes"]}
    assert created["id"] in objects and other_zone["id"] in objects
    first = objects[created["id"]]
    assert first["object"] == "test_helpers.test_clock" and first["name"] == "Renewals"
    assert first["frozen_time"] == int(datetime(2031, 3, 1, 12, 30, 45, tzinfo=UTC).timestamp())
    assert isinstance(first["created"], int)
    error = await api.error(CREATE, {"input": {"frozenTime": "2031-03-01T12:00:00Z", "name": "n" * 301}})
    assert error["extensions"] == {"code": "parameter_invalid", "type": "invalid_request_error", "param": "name"}
    error = await api.error(CREATE, {"input": {"frozenTime": "not a time"}})
    assert error["extensions"]["type"] == "invalid_request_error", error


async def test_list_newest_first(api):
    first = await clock(api, name="first")
    await asyncio.sleep(1.05)  # created is to the second: make the order unambiguous
    second = await clock(api, name="second")
    listed = await api.ok("{ testClocks { nodes { id } pageInfo { hasNextPage } } }")
    assert listed["testClocks"]["nodes"] == [{"id": second["id"]}, {"id": first["id"]}]
    page = await api.ok("{ testClocks(first: 1) { nodes { id } pageInfo { hasNextPage endCursor } } }")
    assert page["testClocks"]["nodes"] == [{"id": second["id"]}]
    assert page["testClocks"]["pageInfo"]["hasNextPage"] is True
    rest = await api.ok("query($after: String) { testClocks(first: 1, after: $after) { nodes { id } } }",
                        {"after": page["testClocks"]["pageInfo"]["endCursor"]})
    assert rest["testClocks"]["nodes"] == [{"id": first["id"]}]


async def test_unknown_clock(api):
    assert (await api.ok('{ testClock(id: "clock_nope") { id } }'))["testClock"] is None
    error = await api.error('mutation { deleteTestClock(id: "clock_nope") { id } }')
    assert error["extensions"] == {"code": "resource_missing", "type": "invalid_request_error", "param": "id"}


async def test_delete_deletes_the_clocks_customers(api):
    frozen = await clock(api)
    other = await clock(api)
    create = "mutation($clock: ID) { createCustomer(input: {testClock: $clock}) { id } }"
    on_clock = [(await api.ok(create, {"clock": frozen["id"]}))["createCustomer"]["id"] for _ in range(2)]
    elsewhere = (await api.ok(create, {"clock": other["id"]}))["createCustomer"]["id"]
    plain = (await api.ok(create, {"clock": None}))["createCustomer"]["id"]

    deleted = await api.ok(DELETE, {"id": frozen["id"]})
    assert deleted["deleteTestClock"] == {"id": frozen["id"], "deleted": True}
    for customer in on_clock:
        read = await api.ok("query($id: ID!) { customer(id: $id) { deleted } }", {"id": customer})
        assert read["customer"]["deleted"] is True
    listed = await api.ok("{ customers { nodes { id } } testClocks { nodes { id } } }")
    assert {n["id"] for n in listed["customers"]["nodes"]} == {elsewhere, plain}
    assert listed["testClocks"]["nodes"] == [{"id": other["id"]}]
    assert (await api.ok(READ, {"id": frozen["id"]}))["testClock"] is None
    assert (await api.ok("query($id: ID!) { node(id: $id) { id } }", {"id": frozen["id"]}))["node"] is None

    types = await api.ok('{ deleted: events(types: ["customer.deleted", "test_helpers.test_clock.deleted"]) '
                         "{ nodes { type data } } }")
    objects = sorted((n["type"], n["data"]["object"]["id"]) for n in types["deleted"]["nodes"])
    assert objects == sorted([("customer.deleted", c) for c in on_clock]
                             + [("test_helpers.test_clock.deleted", frozen["id"])])
    error = await api.error(DELETE, {"id": frozen["id"]})
    assert error["extensions"]["code"] == "resource_missing"
    error = await api.error(create, {"clock": frozen["id"]})
    assert error["extensions"] == {"code": "resource_missing", "type": "invalid_request_error", "param": "testClock"}
