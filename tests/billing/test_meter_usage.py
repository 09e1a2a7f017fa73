"""Meter events in the domain: acceptance rules, storage through the stream, aggregates exact to the second,
adjustments, summaries. Real database and Redis; the drain is the workers' own `flush`."""
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.billing import customers, meter_drain, meter_stream, meters, usage
from app.billing.errors import BillingError
from app.billing.events import atomic
from app.models.meters import MeterEvent, MeterEventAdjustment
from workers.usage import flush

NOW = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=2)


async def _setup(formula: str = "sum", **keys):
    async with atomic():
        meter = await meters.create_meter(display_name="API calls", event_name=f"calls_{formula}", formula=formula,
                                          **keys)
        customer = await customers.create_customer(email="m@example.com")
    return meter, customer.id


def _event(customer: str, value, at: datetime | None = None, identifier: str | None = None,
           event_name: str = "calls_sum", **payload) -> dict:
    body = {"stripe_customer_id": customer, **payload}
    if value is not None:
        body["value"] = value
    return {"event_name": event_name, "payload": body, "identifier": identifier, "timestamp": at}


async def _send(redis, events: list[dict]) -> usage.BatchResult:
    return await usage.accept(redis, events, dedup_seconds=600)


async def test_sum_count_last_are_exact_for_any_bounds(db, redis):
    """Random events over 3 hours; every aggregate over random second bounds equals a brute-force one."""
    rng = random.Random(7)
    events = {}
    for formula in ("sum", "count", "last"):
        meter, customer = await _setup(formula)
        sent = []
        for batch in range(4):
            chunk = []
            for i in range(150):
                at = NOW + timedelta(seconds=rng.randrange(0, 3 * 3600))
                value = Decimal(rng.randrange(0, 10_000)) / 100
                identifier = f"{formula}-{batch}-{i}"
                chunk.append(_event(customer, str(value), at, identifier, event_name=meter.event_name))
                sent.append((at, identifier, value))
            result = await _send(redis, chunk)
            assert (result.accepted, result.duplicates, result.errors) == (150, 0, [])
        events[formula] = (meter, customer, sent)
    await flush({"redis": redis})
    assert await MeterEvent.all().count() == 1800
    for formula, (meter, customer, sent) in events.items():
        for _ in range(40):
            a, b = sorted(NOW + timedelta(seconds=rng.randrange(-60, 3 * 3600 + 60)) for _ in range(2))
            inside = [(at, identifier, value) for at, identifier, value in sent if a <= at < b]
            got = await usage.usage(meter, customer, a, b)
            if formula == "sum":
                assert got == sum((v for _, _, v in inside), Decimal(0))
            elif formula == "count":
                assert got == len(inside)
            else:
                # Ties in a second go to the later-accepted event: the order sent here.
                expected = max(inside, key=lambda e: (e[0], sent.index(e)))[2] if inside else None
                assert got == expected


async def test_boundaries_start_inclusive_end_exclusive(db, redis):
    meter, customer = await _setup()
    start = NOW.replace(minute=0)
    end = start + timedelta(hours=1)
    await _send(redis, [_event(customer, "1", start - timedelta(seconds=1)), _event(customer, "10", start),
                        _event(customer, "100", end - timedelta(seconds=1)), _event(customer, "1000", end)])
    await flush({"redis": redis})
    assert await usage.usage(meter, customer, start, end) == 110
    assert await usage.usage(meter, customer, start + timedelta(seconds=1), end) == 100
    assert await usage.usage(meter, customer, start - timedelta(seconds=1), end + timedelta(seconds=1)) == 1111
    assert await usage.usage(meter, customer, end, end + timedelta(seconds=1)) == 1000


async def test_values_decimals_and_refusals_per_event(db, redis):
    meter, customer = await _setup()
    result = await _send(redis, [
        _event(customer, "2.5"),                               # 0 ok
        _event(customer, None),                                # 1 missing value
        _event(customer, "ten"),                               # 2 not a number
        _event(customer, "-1"),                                # 3 negative
        _event("cus_nobody", "1"),                             # 4 unknown customer
        {"event_name": "calls_sum", "payload": {"value": "1"}},  # 5 no customer key
        _event(customer, "1", event_name="nope"),              # 6 no such meter
        _event(customer, "0.0000000000001"),                   # 7 13 decimal places
        _event(customer, 3),                                   # 8 a JSON number is fine too
    ])
    assert (result.accepted, result.duplicates) == (2, 0)
    assert [(i, code) for i, code, _ in result.errors] == [
        (1, "parameter_missing"), (2, "parameter_invalid"), (3, "parameter_invalid"), (4, "resource_missing"),
        (5, "parameter_missing"), (6, "resource_missing"), (7, "parameter_invalid")]
    await flush({"redis": redis})
    assert await usage.usage(meter, customer, NOW - timedelta(days=30), NOW + timedelta(days=30)) == Decimal("5.5")


async def test_count_needs_no_value_and_custom_payload_keys(db, redis):
    meter, _ = await _setup("count", customer_payload_key="account", value_payload_key="tokens")
    async with atomic():
        customer = (await customers.create_customer(email="k@example.com")).id
    result = await _send(redis, [{"event_name": "calls_count", "payload": {"account": customer}},
                                 {"event_name": "calls_count", "payload": {"account": customer, "tokens": "7"}},
                                 {"event_name": "calls_count", "payload": {"stripe_customer_id": customer}}])
    assert result.accepted == 2 and [e[:2] for e in result.errors] == [(2, "parameter_missing")]
    await flush({"redis": redis})
    assert await usage.usage(meter, customer, NOW - timedelta(days=3), NOW + timedelta(days=3)) == 2


async def test_timestamp_window_35_days_back_5_minutes_ahead(db, redis):
    _, customer = await _setup()
    now = datetime.now(UTC)
    result = await _send(redis, [
        _event(customer, "1", now - timedelta(days=35) + timedelta(minutes=1)),
        _event(customer, "1", now - timedelta(days=35, minutes=1)),
        _event(customer, "1", now + timedelta(minutes=4)),
        _event(customer, "1", now + timedelta(minutes=6)),
    ])
    assert result.accepted == 2
    assert [e[:2] for e in result.errors] == [(1, "timestamp_too_far_in_past"), (3, "timestamp_in_future")]


async def test_duplicates_within_and_across_batches_are_stored_once(db, redis):
    meter, customer = await _setup()
    first = await _send(redis, [_event(customer, "1", NOW, "a"), _event(customer, "2", NOW, "a"),
                                _event(customer, "4", NOW, "b")])
    assert (first.accepted, first.duplicates, first.duplicate_indexes) == (2, 1, [1])
    again = await _send(redis, [_event(customer, "8", NOW, "b"), _event(customer, "16", NOW, "c")])
    assert (again.accepted, again.duplicates) == (1, 1)
    await flush({"redis": redis})
    # Past the synchronous window (its key gone), the database still refuses the repeat.
    await redis.delete(meter_stream.dedup_key("a"))
    late = await _send(redis, [_event(customer, "32", NOW, "a")])
    assert late.accepted == 1
    await flush({"redis": redis})
    assert await MeterEvent.all().count() == 3
    assert await usage.usage(meter, customer, NOW, NOW + timedelta(minutes=1)) == 1 + 4 + 16


async def test_a_duplicate_single_event_is_an_error(db, redis):
    _, customer = await _setup()
    await usage.accept_one(redis, _event(customer, "1", NOW, "x"), dedup_seconds=600)
    with pytest.raises(BillingError) as error:
        await usage.accept_one(redis, _event(customer, "1", NOW, "x"), dedup_seconds=600)
    assert error.value.code == "resource_already_exists"


async def test_deactivated_meter_refuses_events_and_reactivated_takes_them(db, redis):
    meter, customer = await _setup()
    async with atomic():
        await meters.set_status(meter.id, "inactive")
    usage.lookups.forget()
    result = await _send(redis, [_event(customer, "1")])
    assert result.accepted == 0 and result.errors[0][1] == "meter_inactive"
    async with atomic():
        await meters.set_status(meter.id, "active")
    usage.lookups.forget()
    assert (await _send(redis, [_event(customer, "1")])).accepted == 1


async def test_adjustment_cancels_a_stored_event_and_one_not_yet_drained(db, redis):
    meter, customer = await _setup("last")
    t = NOW.replace(minute=10)
    await _send(redis, [_event(customer, "5", t, "early", event_name="calls_last"),
                        _event(customer, "9", t + timedelta(seconds=20), "late", event_name="calls_last")])
    await flush({"redis": redis})
    async with atomic():
        done = await usage.create_adjustment(redis, event_name="calls_last", cancel_identifier="late")
    assert done.status == "complete"
    assert await usage.usage(meter, customer, t, t + timedelta(minutes=1)) == 5  # the minute's LAST recomputed
    assert (await usage.summaries(meter.id, customer, t, t + timedelta(minutes=1)))[0].value == 5

    await _send(redis, [_event(customer, "7", t + timedelta(minutes=1), "queued", event_name="calls_last")])
    async with atomic():
        pending = await usage.create_adjustment(redis, event_name="calls_last", cancel_identifier="queued")
    assert pending.status == "pending"
    await flush({"redis": redis})
    assert (await MeterEventAdjustment.get(id=pending.id)).status == "complete"
    assert await usage.usage(meter, customer, t, t + timedelta(minutes=5)) == 5

    with pytest.raises(BillingError) as unknown:
        await usage.create_adjustment(redis, event_name="calls_last", cancel_identifier="never-sent")
    assert unknown.value.code == "resource_missing"


async def test_adjustment_only_within_24_hours(db, redis):
    _, customer = await _setup()
    await _send(redis, [_event(customer, "5", NOW, "old")])
    await flush({"redis": redis})
    await MeterEvent.filter(identifier="old").update(created=datetime.now(UTC) - timedelta(hours=25))
    with pytest.raises(BillingError) as error:
        await usage.create_adjustment(redis, event_name="calls_sum", cancel_identifier="old")
    assert error.value.param == "cancelIdentifier"


async def test_summaries_by_hour_and_day_with_last_per_window(db, redis):
    meter, customer = await _setup("last")
    day = NOW.replace(hour=0, minute=0)
    points = [(day + timedelta(hours=1, minutes=5), "1"), (day + timedelta(hours=1, minutes=50), "2"),
              (day + timedelta(hours=3), "3"), (day + timedelta(days=1, hours=2), "4")]
    await _send(redis, [_event(customer, v, at, event_name="calls_last") for at, v in points])
    await flush({"redis": redis})
    hourly = await usage.summaries(meter.id, customer, day, day + timedelta(days=2), "hour")
    assert [(s.start, s.end, s.value) for s in hourly] == [
        (day + timedelta(hours=1), day + timedelta(hours=2), 2),
        (day + timedelta(hours=3), day + timedelta(hours=4), 3),
        (day + timedelta(days=1, hours=2), day + timedelta(days=1, hours=3), 4)]
    daily = await usage.summaries(meter.id, customer, day + timedelta(hours=1), day + timedelta(days=2), "day")
    assert [(s.start, s.end, s.value) for s in daily] == [
        (day + timedelta(hours=1), day + timedelta(days=1), 3), (day + timedelta(days=1), day + timedelta(days=2), 4)]
    whole = await usage.summaries(meter.id, customer, day, day + timedelta(hours=2))
    assert [s.value for s in whole] == [2]
    with pytest.raises(BillingError) as error:
        await usage.summaries(meter.id, customer, day + timedelta(seconds=30), day + timedelta(hours=1))
    assert error.value.param == "startTime"


async def test_a_flush_that_cannot_finish_in_time_is_a_retryable_error(db, redis):
    """Entries a live consumer holds are not claimed before they are idle 30 s: a flush bounded below that
    refuses to go on as if they were stored."""
    async def dispatch(events):
        raise AssertionError("no alert to fire")

    meter, customer = await _setup()
    await _send(redis, [_event(customer, "2", NOW)])
    await meter_stream.ensure_group(redis)
    held = await meter_stream.read(redis, "busy-worker", 10)
    assert len(held) == 1
    with pytest.raises(BillingError) as refused:
        await meter_drain.flush(redis, "api", dispatch, within=0.3)
    assert (refused.value.type, refused.value.code) == ("api_error", "usage_not_stored")
    assert await MeterEvent.all().count() == 0
    await usage.store(held)
    await meter_stream.ack(redis, held)
    await meter_drain.flush(redis, "api", dispatch, within=0.3)
    assert await MeterEvent.all().count() == 1
