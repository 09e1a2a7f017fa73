"""Meters, meter events, summaries, adjustments and billing alerts through HTTP."""
from datetime import UTC, datetime, timedelta

from workers.usage import flush

METER = ("id displayName eventName status defaultAggregation { formula } customerMapping { eventPayloadKey } "
         "valueSettings { eventPayloadKey } created updated")
CREATE_METER = "mutation($input: CreateMeterInput!) { createMeter(input: $input) { " + METER + " } }"
EVENTS = ("mutation($events: [CreateMeterEventInput!]!) { createMeterEvents(events: $events) { "
          "accepted duplicates errors { index code message } } }")
EVENT = ("mutation($input: CreateMeterEventInput!) { createMeterEvent(input: $input) { "
         "identifier eventName payload timestamp created } }")
SUMMARIES = """query($m: ID!, $c: ID!, $s: DateTime!, $e: DateTime!, $w: MeterValueGroupingWindow) {
  meterEventSummaries(meter: $m, customer: $c, startTime: $s, endTime: $e, valueGroupingWindow: $w) {
    id aggregatedValue startTime endTime meter { id } customer { id } } }"""


def _now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


async def meter(api, event_name: str = "api_calls", formula: str = "SUM", **extra) -> dict:
    data = await api.ok(CREATE_METER, {"input": {"displayName": "API calls", "eventName": event_name,
                                                 "formula": formula, **extra}})
    return data["createMeter"]


async def customer(api) -> str:
    data = await api.ok("mutation { createCustomer(input: {email: \"u@example.com\"}) { id } }")
    return data["createCustomer"]["id"]


def event(cus: str, value: str, at: datetime | None = None, identifier: str | None = None,
          name: str = "api_calls") -> dict:
    return {"eventName": name, "payload": {"stripe_customer_id": cus, "value": value}, "identifier": identifier,
            "timestamp": at.isoformat() if at else None}


async def test_meter_create_read_list_update_and_status(api):
    created = await meter(api)
    assert created["id"].startswith("mtr_") and created["status"] == "ACTIVE"
    assert created["defaultAggregation"] == {"formula": "SUM"}
    assert created["customerMapping"] == {"eventPayloadKey": "stripe_customer_id"}
    assert created["valueSettings"] == {"eventPayloadKey": "value"}
    other = await meter(api, "tokens", "COUNT", customerPayloadKey="account", valuePayloadKey="n")
    assert other["customerMapping"]["eventPayloadKey"] == "account"
    error = await api.error(CREATE_METER, {"input": {"displayName": "x", "eventName": "api_calls", "formula": "SUM"}})
    assert error["extensions"]["code"] == "resource_already_exists" and error["extensions"]["param"] == "eventName"
    read = await api.ok("query($id: ID!) { meter(id: $id) { displayName } }", {"id": created["id"]})
    assert read["meter"]["displayName"] == "API calls"
    renamed = await api.ok("mutation($id: ID!) { updateMeter(id: $id, input: {displayName: \"Calls\"}) { "
                           "displayName } }", {"id": created["id"]})
    assert renamed["updateMeter"]["displayName"] == "Calls"
    off = await api.ok("mutation($id: ID!) { deactivateMeter(id: $id) { status } }", {"id": created["id"]})
    assert off["deactivateMeter"]["status"] == "INACTIVE"
    error = await api.error("mutation($id: ID!) { deactivateMeter(id: $id) { status } }", {"id": created["id"]})
    assert error["extensions"]["code"] == "parameter_invalid"
    inactive = await api.ok("{ meters(status: INACTIVE) { nodes { id } } }")
    assert inactive["meters"]["nodes"] == [{"id": created["id"]}]
    listed = await api.ok("{ meters { nodes { id } } }")
    assert {n["id"] for n in listed["meters"]["nodes"]} == {created["id"], other["id"]}
    types = await api.ok('{ events(type: "billing.meter.*") { nodes { type } } }')
    assert [n["type"] for n in types["events"]["nodes"]] == [
        "billing.meter.deactivated", "billing.meter.updated", "billing.meter.created", "billing.meter.created"]


async def test_events_batch_summaries_and_deactivation(api, redis):
    m = await meter(api)
    cus = await customer(api)
    now = _now()
    start = now.replace(minute=0) - timedelta(hours=2)
    batch = [event(cus, "1.25", start + timedelta(minutes=5), "e1"), event(cus, "2", start + timedelta(minutes=70)),
             event(cus, "x", start), event(cus, "3", start + timedelta(minutes=71), "e1"),
             event(cus, "4", now + timedelta(minutes=10))]
    result = (await api.ok(EVENTS, {"events": batch}))["createMeterEvents"]
    assert (result["accepted"], result["duplicates"]) == (2, 1)
    assert [(e["index"], e["code"]) for e in result["errors"]] == [(2, "parameter_invalid"),
                                                                   (4, "timestamp_in_future")]
    single = (await api.ok(EVENT, {"input": event(cus, "10", start + timedelta(minutes=80), "e9")}))
    assert single["createMeterEvent"]["identifier"] == "e9"
    assert single["createMeterEvent"]["payload"] == {"stripe_customer_id": cus, "value": "10"}
    error = await api.error(EVENT, {"input": event(cus, "10", start, "e9")})
    assert error["extensions"]["code"] == "resource_already_exists"
    await flush({"redis": redis})
    variables = {"m": m["id"], "c": cus, "s": start.isoformat(), "e": now.isoformat()}
    whole = (await api.ok(SUMMARIES, variables))["meterEventSummaries"]
    assert [(s["aggregatedValue"], s["meter"]["id"], s["customer"]["id"]) for s in whole] == [("13.25", m["id"], cus)]
    hourly = (await api.ok(SUMMARIES, {**variables, "w": "HOUR"}))["meterEventSummaries"]
    assert [s["aggregatedValue"] for s in hourly] == ["1.25", "12"]
    error = await api.error(SUMMARIES, {**variables, "s": (start + timedelta(seconds=1)).isoformat()})
    assert error["extensions"]["param"] == "startTime"

    await api.ok("mutation($id: ID!) { deactivateMeter(id: $id) { status } }", {"id": m["id"]})
    refused = (await api.ok(EVENTS, {"events": [event(cus, "1")]}))["createMeterEvents"]
    assert refused["accepted"] == 0 and refused["errors"][0]["code"] == "meter_inactive"
    await api.ok("mutation($id: ID!) { reactivateMeter(id: $id) { status } }", {"id": m["id"]})
    assert (await api.ok(EVENTS, {"events": [event(cus, "1")]}))["createMeterEvents"]["accepted"] == 1


async def test_batch_limit_and_adjustment(api, redis):
    await meter(api)
    cus = await customer(api)
    error = await api.error(EVENTS, {"events": [event(cus, "1")] * 1001})
    assert error["extensions"]["param"] == "events"
    assert (await api.ok(EVENTS, {"events": [event(cus, "1", identifier=f"i{n}") for n in range(1000)]})) \
        ["createMeterEvents"]["accepted"] == 1000
    adjust = ("mutation($id: String!) { createMeterEventAdjustment(input: {eventName: \"api_calls\", "
              "cancelIdentifier: $id}) { id eventName cancelIdentifier status } }")
    pending = (await api.ok(adjust, {"id": "i7"}))["createMeterEventAdjustment"]
    assert pending["status"] == "PENDING" and pending["cancelIdentifier"] == "i7"
    await flush({"redis": redis})
    done = (await api.ok(adjust, {"id": "i8"}))["createMeterEventAdjustment"]
    assert done["status"] == "COMPLETE"
    variables = {"m": (await api.ok("{ meters { nodes { id } } }"))["meters"]["nodes"][0]["id"], "c": cus,
                 "s": (_now() - timedelta(hours=1)).isoformat(), "e": (_now() + timedelta(hours=1)).isoformat()}
    assert (await api.ok(SUMMARIES, variables))["meterEventSummaries"][0]["aggregatedValue"] == "998"


async def test_price_with_a_meter(api):
    m = await meter(api)
    product = (await api.ok("mutation { createProduct(input: {name: \"Calls\"}) { id } }"))["createProduct"]["id"]
    create = ("mutation($input: CreatePriceInput!) { createPrice(input: $input) { id recurring { usageType "
              "aggregateUsage meter { id eventName } } } }")
    recurring = {"interval": "MONTH", "usageType": "METERED", "meter": m["id"]}
    price = (await api.ok(create, {"input": {"product": product, "currency": "usd", "unitAmount": 2,
                                             "recurring": recurring}}))["createPrice"]
    assert price["recurring"] == {"usageType": "METERED", "aggregateUsage": None,
                                  "meter": {"id": m["id"], "eventName": "api_calls"}}
    error = await api.error(create, {"input": {"product": product, "currency": "usd", "unitAmount": 2,
                                               "recurring": {**recurring, "meter": "mtr_nope"}}})
    assert error["extensions"]["code"] == "resource_missing" and error["extensions"]["param"] == "recurring.meter"


async def test_billing_alert_fires_once_per_customer(api, redis):
    m = await meter(api)
    first, second = await customer(api), await customer(api)
    create = ("mutation($input: CreateBillingAlertInput!) { createBillingAlert(input: $input) { id title status "
              "customer { id } usageThreshold { gte meter { id } } } }")
    for_all = (await api.ok(create, {"input": {"title": "Big", "meter": m["id"], "gte": 10}}))["createBillingAlert"]
    assert for_all["status"] == "ACTIVE" and for_all["usageThreshold"] == {"gte": 10, "meter": {"id": m["id"]}}
    for_one = (await api.ok(create, {"input": {"title": "Mine", "meter": m["id"], "gte": 5,
                                               "customer": second}}))["createBillingAlert"]
    archived = (await api.ok(create, {"input": {"title": "Old", "meter": m["id"], "gte": 1}}))["createBillingAlert"]
    gone = await api.ok("mutation($id: ID!) { archiveBillingAlert(id: $id) { status } }", {"id": archived["id"]})
    assert gone["archiveBillingAlert"]["status"] == "ARCHIVED"
    await api.ok(EVENTS, {"events": [event(first, "6"), event(second, "6")]})
    await flush({"redis": redis})
    await api.ok(EVENTS, {"events": [event(first, "6"), event(second, "6")]})
    await flush({"redis": redis})
    await api.ok(EVENTS, {"events": [event(first, "6"), event(second, "6")]})
    await flush({"redis": redis})
    data = await api.ok('{ events(type: "billing.alert.triggered") { nodes { data } } }')
    fired = sorted((n["data"]["object"]["alert"]["id"], n["data"]["object"]["customer"], n["data"]["object"]["value"])
                   for n in data["events"]["nodes"])
    assert fired == sorted([(for_one["id"], second, 6), (for_all["id"], first, 12), (for_all["id"], second, 12)])
    listed = await api.ok("query($c: ID) { billingAlerts(customer: $c) { nodes { id } } }", {"c": second})
    assert listed["billingAlerts"]["nodes"] == [{"id": for_one["id"]}]


async def _fired(api) -> list[tuple[str, str, int]]:
    data = await api.ok('{ events(type: "billing.alert.triggered") { nodes { data } } }')
    return sorted((n["data"]["object"]["alert"]["id"], n["data"]["object"]["customer"], n["data"]["object"]["value"])
                  for n in data["events"]["nodes"])


async def test_billing_alerts_count_only_usage_reported_after_their_creation(api, redis):
    """As Stripe documents. The usage accepted before createBillingAlert is not yet stored: the API flushes it
    into the baseline first."""
    create = "mutation($input: CreateBillingAlertInput!) { createBillingAlert(input: $input) { id } }"
    summed, last = await meter(api), await meter(api, "seats", "LAST")
    heavy, fresh = await customer(api), await customer(api)
    await api.ok(EVENTS, {"events": [event(heavy, "8"), event(heavy, "10", name="seats")]})
    await flush({"redis": redis})
    await api.ok(EVENTS, {"events": [event(heavy, "4")]})  # accepted, still in the stream
    for_all = (await api.ok(create, {"input": {"title": "Sum", "meter": summed["id"], "gte": 5}}))["createBillingAlert"]
    seats = (await api.ok(create, {"input": {"title": "Seats", "meter": last["id"], "gte": 5,
                                             "customer": heavy}}))["createBillingAlert"]

    await api.ok(EVENTS, {"events": [event(heavy, "1"), event(fresh, "5"), event(heavy, "3", name="seats")]})
    await flush({"redis": redis})
    assert await _fired(api) == [(for_all["id"], fresh, 5)]  # heavy: 13 in all, 1 since the alert
    await api.ok(EVENTS, {"events": [event(heavy, "4"), event(heavy, "6", name="seats")]})
    await flush({"redis": redis})
    assert await _fired(api) == sorted([(for_all["id"], fresh, 5), (for_all["id"], heavy, 5), (seats["id"], heavy, 6)])
