"""Meter events: validation and acceptance, storage with per-minute aggregates, cancellation,
aggregation over any bounds, summaries, and the metered lines of invoices.

Acceptance (in the request): each event is checked against its meter and customer, then the valid ones
go to the Redis stream (app/billing/meter_stream.py) with their duplicate check. Storage (in a worker):
a batch of stream entries is inserted in one transaction, identifiers that already exist are skipped
(the primary key is the final word on duplicates), and only the rows really inserted are added to the
per-minute aggregates. A total over [start, end) reads the whole minutes from the aggregates and the
partial minutes at both ends from the events themselves, so it is exact to the second.
"""
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from tortoise import connections
from tortoise.transactions import in_transaction

from app.billing import catalog_reads, meter_stream
from app.billing.errors import BillingError, invalid, not_found
from app.billing.invoicing import LineSpec
from app.billing.pricing import amount_for, round_amount, unit_amount_of
from app.clock import utcnow
from app.ids import new_id
from app.models.catalog import Price
from app.models.clocks import TestClock
from app.models.customers import Customer
from app.models.meters import Meter, MeterEvent, MeterEventAdjustment, MeterUsageMinute

MAX_BATCH = 1000
MAX_IDENTIFIER = 100
PAST_WINDOW = timedelta(days=35)
FUTURE_WINDOW = timedelta(minutes=5)
CANCEL_WINDOW = timedelta(hours=24)
MAX_VALUE = Decimal(10) ** 20
VALUE_PLACES = 12
METER_CACHE_SECONDS = 1.0
CACHE_ENTRIES = 100_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------- per-process lookups for the hot path

class _Lookups:
    """Meters by event name (for METER_CACHE_SECONDS, so a deactivation reaches every API process within
    a second) and customers' test clocks (a customer's clock never changes). Both bounded."""

    def __init__(self) -> None:
        self.meters: dict[str, tuple[float, Meter | None]] = {}
        self.clocks: dict[str, str] = {}  # customer id -> test clock id, "" for real time

    def forget(self) -> None:
        self.meters.clear()

    async def meter(self, event_name: str) -> Meter | None:
        hit = self.meters.get(event_name)
        if hit is not None and time.monotonic() - hit[0] < METER_CACHE_SECONDS:
            return hit[1]
        meter = await Meter.get_or_none(event_name=event_name)
        if len(self.meters) >= CACHE_ENTRIES:
            self.meters.clear()
        self.meters[event_name] = (time.monotonic(), meter)
        return meter

    async def customer_clocks(self, customer_ids: set[str]) -> dict[str, str]:
        """Clock id ("" for none) of each existing customer among customer_ids."""
        missing = [c for c in customer_ids if c not in self.clocks and 0 < len(c) <= 64]
        if missing:
            if len(self.clocks) + len(missing) > CACHE_ENTRIES:
                self.clocks.clear()
            for id, clock in await Customer.filter(id__in=missing, deleted=False).values_list("id", "test_clock_id"):
                self.clocks[id] = clock or ""
        return {c: self.clocks[c] for c in customer_ids if c in self.clocks}


lookups = _Lookups()


# ---------------------------------------------------------------- acceptance

@dataclass
class Accepted:
    identifier: str
    event_name: str
    payload: dict
    timestamp: datetime
    created: datetime


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (index, code, message)
    events: list[Accepted] = field(default_factory=list)  # the accepted ones
    duplicate_indexes: list[int] = field(default_factory=list)


class _Refused(Exception):
    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def parse_value(raw, formula: str) -> Decimal:
    """The event's value: a decimal string (as Stripe sends it) or a number; COUNT meters need none."""
    if raw is None:
        if formula == "count":
            return Decimal(1)
        raise _Refused("parameter_missing", "The payload has no value.", "payload")
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _Refused("parameter_invalid", "The payload's value must be a number in a string, like \"12.5\".",
                       "payload")
    try:
        value = Decimal(raw.strip() if isinstance(raw, str) else str(raw))
    except InvalidOperation:
        raise _Refused("parameter_invalid", f"The payload's value is not a number: {str(raw)[:40]!r}.",
                       "payload") from None
    if not value.is_finite() or value < 0:
        raise _Refused("parameter_invalid", "The payload's value must be a finite number, zero or more.", "payload")
    if value >= MAX_VALUE:
        raise _Refused("parameter_invalid", "The payload's value must be less than 10^20.", "payload")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > VALUE_PLACES:
        raise _Refused("parameter_invalid", f"The payload's value can have at most {VALUE_PLACES} decimal places.",
                       "payload")
    return value


def _identifier(raw) -> str:
    if raw is None:
        return new_id("mev", 16)
    if not isinstance(raw, str) or not raw or len(raw) > MAX_IDENTIFIER:
        raise _Refused("parameter_invalid", f"identifier must be 1 to {MAX_IDENTIFIER} characters.", "identifier")
    return raw


async def _clock_times(clock_ids: set[str]) -> dict[str, datetime]:
    real = utcnow()
    times = {"": real}
    wanted = [c for c in clock_ids if c]
    if wanted:
        times.update(dict(await TestClock.filter(id__in=wanted).values_list("id", "frozen_time")))
    return times


async def accept(redis, inputs: list[dict], *, dedup_seconds: int) -> BatchResult:
    """Validate each event {event_name, payload, identifier, timestamp}; append the valid ones to the stream.

    An event's timestamp (default: now) must be within the past 35 days and at most 5 minutes ahead of its
    customer's now (its test clock's time). Valid events are taken even when others fail."""
    if len(inputs) > MAX_BATCH:
        raise invalid(f"At most {MAX_BATCH} events can be sent in one request.", "events")
    result = BatchResult()
    checked: list[tuple[int, Meter, str, dict]] = []
    for index, event in enumerate(inputs):
        try:
            meter, customer = await _check_shape(event)
            checked.append((index, meter, customer, event))
        except _Refused as refused:
            result.errors.append((index, refused.code, refused.message))
    clocks = await lookups.customer_clocks({customer for _, _, customer, _ in checked})
    times = await _clock_times(set(clocks.values()))
    created = datetime.now(UTC)
    rows: list[tuple[str, list]] = []
    candidates: list[tuple[int, Accepted]] = []
    for index, meter, customer, event in checked:
        try:
            if customer not in clocks:
                raise _Refused("resource_missing", f"No such customer: '{customer[:64]}'.", "payload")
            now = times.get(clocks[customer], times[""])
            timestamp = _timestamp(event.get("timestamp"), now)
            value = parse_value(event["payload"].get(meter.value_payload_key), meter.formula)
            identifier = _identifier(event.get("identifier"))
        except _Refused as refused:
            result.errors.append((index, refused.code, refused.message))
            continue
        payload = event["payload"]
        rows.append((identifier, [identifier, meter.event_name, meter.id, customer, str(value),
                                  int(timestamp.timestamp()), created.timestamp(), payload]))
        candidates.append((index, Accepted(identifier, meter.event_name, payload, timestamp, created)))
    for (index, accepted), new in zip(candidates, await meter_stream.append(redis, rows, dedup_seconds),
                                      strict=True):
        if new:
            result.accepted += 1
            result.events.append(accepted)
        else:
            result.duplicates += 1
            result.duplicate_indexes.append(index)
    result.errors.sort()
    return result


async def _check_shape(event: dict) -> tuple[Meter, str]:
    event_name, payload = event.get("event_name"), event.get("payload")
    if not isinstance(event_name, str) or not event_name:
        raise _Refused("parameter_missing", "eventName is required.", "eventName")
    meter = await lookups.meter(event_name) if len(event_name) <= 100 else None
    if meter is None:
        raise _Refused("resource_missing", f"No meter has the event name '{event_name[:100]}'.", "eventName")
    if meter.status != "active":
        raise _Refused("meter_inactive", f"The meter for '{event_name}' is deactivated: it takes no events.",
                       "eventName")
    if not isinstance(payload, dict):
        raise _Refused("parameter_invalid", "payload must be an object of string keys to string values.", "payload")
    customer = payload.get(meter.customer_payload_key)
    if not isinstance(customer, str) or not customer:
        raise _Refused("parameter_missing",
                       f"The payload has no customer id under '{meter.customer_payload_key}'.", "payload")
    return meter, customer


def _timestamp(raw: datetime | None, now: datetime) -> datetime:
    if raw is None:
        return now
    timestamp = raw.astimezone(UTC).replace(microsecond=0)
    if timestamp < now - PAST_WINDOW:
        raise _Refused("timestamp_too_far_in_past", "The timestamp must be within the past 35 days.", "timestamp")
    if timestamp > now + FUTURE_WINDOW:
        raise _Refused("timestamp_in_future", "The timestamp can be at most 5 minutes in the future.", "timestamp")
    return timestamp


async def accept_one(redis, event: dict, *, dedup_seconds: int) -> Accepted:
    """createMeterEvent: one event, whose refusal (or repeat) is the request's error."""
    result = await accept(redis, [event], dedup_seconds=dedup_seconds)
    if result.errors:
        _, code, message = result.errors[0]
        raise BillingError(message, code=code, param=_PARAMS.get(code, "payload"))
    if result.duplicates:
        raise BillingError(f"An event with identifier '{event.get('identifier')}' already exists.",
                           code="resource_already_exists", param="identifier")
    return result.events[0]


_PARAMS = {"timestamp_too_far_in_past": "timestamp", "timestamp_in_future": "timestamp", "meter_inactive": "eventName"}


# ---------------------------------------------------------------- storage (workers)

@dataclass
class Tally:
    """Sum, count and the last value (by timestamp, then acceptance order) of some events."""

    sum: Decimal = Decimal(0)
    count: int = 0
    last: tuple[datetime, int, Decimal] | None = None

    def add(self, value: Decimal, count: int, last: tuple[datetime, int, Decimal] | None) -> None:
        self.sum += value
        self.count += count
        if last is not None and (self.last is None or last[:2] > self.last[:2]):
            self.last = last

    def value(self, formula: str) -> Decimal | None:
        if formula == "sum":
            return self.sum
        if formula == "count":
            return Decimal(self.count)
        return self.last[2] if self.last is not None else None


def _minute(when: datetime) -> datetime:
    return when.replace(second=0, microsecond=0)


def _rows(entries: list[meter_stream.Entry]) -> list[tuple]:
    """(identifier, event_name, meter, customer, value, timestamp, created, ordinal, payload), first of each id."""
    rows, seen = [], set()
    for entry in entries:
        for index, (identifier, event_name, meter_id, customer, value, ts, created, payload) in enumerate(entry.events):
            if identifier in seen:
                continue
            seen.add(identifier)
            rows.append((identifier, event_name, meter_id, customer, Decimal(value),
                         datetime.fromtimestamp(ts, UTC), datetime.fromtimestamp(created, UTC),
                         entry.ordinal(index), payload))
    return rows


def _minutes(rows: list[tuple]) -> dict[tuple[str, str, datetime], Tally]:
    tallies: dict[tuple[str, str, datetime], Tally] = {}
    for _, _, meter_id, customer, value, timestamp, _, ordinal, _ in rows:
        key = (meter_id, customer, _minute(timestamp))
        tallies.setdefault(key, Tally()).add(value, 1, (timestamp, ordinal, value))
    return dict(sorted(tallies.items()))  # one lock order for concurrent drains


def _postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


async def store(entries: list[meter_stream.Entry]) -> set[tuple[str, str]]:
    """Store the events of these stream entries once each, with their minute aggregates, in one transaction.
    Returns the (meter, customer) pairs that got new events."""
    rows = _rows(entries)
    if not rows:
        return set()
    async with in_transaction() as conn:
        if _postgres():
            inserted = await _insert_postgres(conn, rows)
            new = [row for row in rows if row[0] in inserted]
            await _add_minutes_postgres(conn, _minutes(new))
        else:
            existing = set(await MeterEvent.filter(identifier__in=[r[0] for r in rows])
                           .values_list("identifier", flat=True))
            new = [row for row in rows if row[0] not in existing]
            await MeterEvent.bulk_create([MeterEvent(
                identifier=r[0], event_name=r[1], meter_id=r[2], customer_id=r[3], value=r[4], timestamp=r[5],
                created=r[6], ordinal=r[7], payload=r[8]) for r in new])
            await _add_minutes_orm(_minutes(new))
    return {(row[2], row[3]) for row in new}


_INSERT = """
INSERT INTO meter_events (identifier, event_name, meter_id, customer_id, value, timestamp, created, ordinal,
                          payload, canceled)
SELECT i, n, m, c, v, t, cr, o, p::jsonb, false
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::timestamptz[],
            $7::timestamptz[], $8::bigint[], $9::text[]) AS u(i, n, m, c, v, t, cr, o, p)
ON CONFLICT (identifier) DO NOTHING
RETURNING identifier
"""

_NEWER = ("(excluded.last_timestamp, excluded.last_ordinal) > "
          "(meter_usage_minutes.last_timestamp, meter_usage_minutes.last_ordinal) "
          "OR meter_usage_minutes.last_timestamp IS NULL")
_ADD_MINUTES = f"""
INSERT INTO meter_usage_minutes (meter_id, customer_id, minute, sum, count, last_timestamp, last_ordinal,
                                 last_value)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::numeric[], $5::bigint[], $6::timestamptz[],
                     $7::bigint[], $8::numeric[])
ON CONFLICT (meter_id, customer_id, minute) DO UPDATE SET
  sum = meter_usage_minutes.sum + excluded.sum,
  count = meter_usage_minutes.count + excluded.count,
  last_value = CASE WHEN {_NEWER} THEN excluded.last_value ELSE meter_usage_minutes.last_value END,
  last_ordinal = CASE WHEN {_NEWER} THEN excluded.last_ordinal ELSE meter_usage_minutes.last_ordinal END,
  last_timestamp = CASE WHEN {_NEWER} THEN excluded.last_timestamp ELSE meter_usage_minutes.last_timestamp END
"""


async def _insert_postgres(conn, rows: list[tuple]) -> set[str]:
    columns = list(zip(*rows, strict=True))
    payloads = [json.dumps(p, separators=(",", ":")) for p in columns[8]]
    inserted = await conn.execute_query_dict(_INSERT, [*map(list, columns[:8]), payloads])
    return {record["identifier"] for record in inserted}


async def _add_minutes_postgres(conn, tallies: dict) -> None:
    if not tallies:
        return
    keys, values = list(tallies), list(tallies.values())
    await conn.execute_query(_ADD_MINUTES, [
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], [t.sum for t in values],
        [t.count for t in values], [t.last[0] for t in values], [t.last[1] for t in values],
        [t.last[2] for t in values]])


async def _add_minutes_orm(tallies: dict) -> None:
    for (meter_id, customer, minute), tally in tallies.items():
        row = await MeterUsageMinute.filter(meter_id=meter_id, customer_id=customer, minute=minute) \
            .select_for_update().first()
        if row is None:
            await MeterUsageMinute.create(meter_id=meter_id, customer_id=customer, minute=minute, sum=tally.sum,
                                          count=tally.count, last_timestamp=tally.last[0],
                                          last_ordinal=tally.last[1], last_value=tally.last[2])
            continue
        current = Tally(row.sum, row.count, (row.last_timestamp, row.last_ordinal, row.last_value)
                        if row.last_timestamp else None)
        current.add(tally.sum, tally.count, tally.last)
        row.sum, row.count = current.sum, current.count
        row.last_timestamp, row.last_ordinal, row.last_value = current.last
        await row.save()


# ---------------------------------------------------------------- adjustments

async def create_adjustment(redis, *, event_name: str, cancel_identifier: str, now: datetime | None = None
                            ) -> MeterEventAdjustment:
    """Cancel an event by identifier, within 24 hours of its acceptance. An event still on its way to the
    database (seen in the stream's duplicate window) gets a PENDING adjustment that the drain completes."""
    if not isinstance(cancel_identifier, str) or not cancel_identifier or len(cancel_identifier) > MAX_IDENTIFIER:
        raise invalid(f"cancelIdentifier must be 1 to {MAX_IDENTIFIER} characters.", "cancelIdentifier")
    meter = await Meter.get_or_none(event_name=event_name) if len(event_name) <= 100 else None
    if meter is None:
        raise not_found("billing.meter with event name", event_name, "eventName")
    now = now or utcnow()
    event = await MeterEvent.get_or_none(identifier=cancel_identifier)
    if event is None and not await meter_stream.seen(redis, cancel_identifier):
        raise not_found("meter event", cancel_identifier, "cancelIdentifier")
    if event is not None:
        if event.event_name != event_name:
            raise invalid(f"Event '{cancel_identifier}' belongs to '{event.event_name}', not '{event_name}'.",
                          "eventName")
        if now - event.created > CANCEL_WINDOW:
            raise invalid("An event can only be canceled within 24 hours of when it was received.",
                          "cancelIdentifier")
    adjustment = await MeterEventAdjustment.create(id=new_id("mtradj"), event_name=event_name,
                                                   cancel_identifier=cancel_identifier, created=now)
    if event is not None:
        await _complete(adjustment)
    return adjustment


async def _complete(adjustment: MeterEventAdjustment) -> None:
    """Cancel the adjustment's event (stored by now) and take it out of its minute; then COMPLETE."""
    event = await MeterEvent.filter(identifier=adjustment.cancel_identifier).select_for_update().first()
    if event is not None and not event.canceled:
        event.canceled = True
        await event.save(update_fields=["canceled"])
        row = await MeterUsageMinute.filter(meter_id=event.meter_id, customer_id=event.customer_id,
                                            minute=_minute(event.timestamp)).select_for_update().first()
        row.sum -= event.value
        row.count -= 1
        if (row.last_timestamp, row.last_ordinal) == (event.timestamp, event.ordinal):
            end = row.minute + timedelta(minutes=1)
            minute_events = _live_events(event.meter_id, event.customer_id, row.minute, end)
            last = await minute_events.order_by("-timestamp", "-ordinal").first() \
                .values_list("timestamp", "ordinal", "value")
            row.last_timestamp, row.last_ordinal, row.last_value = last or (None, None, None)
        await row.save()
    adjustment.status = "complete"
    await adjustment.save(update_fields=["status"])


async def complete_pending_adjustments(limit: int = 100) -> int:
    """Complete PENDING adjustments whose events have been stored since (called by the drain)."""
    done = 0
    pending = await MeterEventAdjustment.filter(status="pending").order_by("created").limit(limit) \
        .values_list("id", "cancel_identifier")
    if not pending:
        return 0
    stored = set(await MeterEvent.filter(identifier__in=[c for _, c in pending]).values_list("identifier", flat=True))
    for id, identifier in pending:
        if identifier not in stored:
            continue
        async with in_transaction():
            adjustment = await MeterEventAdjustment.filter(id=id, status="pending").select_for_update().first()
            if adjustment is not None:
                await _complete(adjustment)
                done += 1
    return done


# ---------------------------------------------------------------- aggregation

def _live_events(meter_id: str, customer_id: str, start: datetime, end: datetime):
    return MeterEvent.filter(meter_id=meter_id, customer_id=customer_id, canceled=False, timestamp__gte=start,
                             timestamp__lt=end)


async def _add_events(tally: Tally, meter_id: str, customer_id: str, start: datetime, end: datetime) -> None:
    if start >= end:
        return
    for timestamp, ordinal, value in await _live_events(meter_id, customer_id, start, end) \
            .values_list("timestamp", "ordinal", "value"):
        tally.add(value, 1, (timestamp, ordinal, value))


async def _minute_rows(meter_id: str, customer_id: str, start: datetime, end: datetime) -> list[tuple]:
    return await MeterUsageMinute.filter(meter_id=meter_id, customer_id=customer_id, minute__gte=start,
                                         minute__lt=end, count__gt=0).order_by("minute") \
        .values_list("minute", "sum", "count", "last_timestamp", "last_ordinal", "last_value")


def _add_minute_row(tally: Tally, row: tuple) -> None:
    _, total, count, last_ts, last_ordinal, last_value = row
    tally.add(total, count, (last_ts, last_ordinal, last_value) if last_ts is not None else None)


async def tally(meter_id: str, customer_id: str, start: datetime, end: datetime) -> Tally:
    """The customer's events on the meter with start <= timestamp < end, exact for any bounds: whole
    minutes from the aggregates, the partial minutes at both ends from the events."""
    result = Tally()
    first = _minute(start) + (timedelta(minutes=1) if start != _minute(start) else timedelta(0))
    last = _minute(end)
    if first >= last:
        await _add_events(result, meter_id, customer_id, start, end)
        return result
    await _add_events(result, meter_id, customer_id, start, first)
    for row in await _minute_rows(meter_id, customer_id, first, last):
        _add_minute_row(result, row)
    await _add_events(result, meter_id, customer_id, last, end)
    return result


async def usage(meter: Meter, customer_id: str, start: datetime, end: datetime) -> Decimal | None:
    """The meter's aggregate (SUM, COUNT or LAST; None for LAST without events) over [start, end)."""
    return (await tally(meter.id, customer_id, start, end)).value(meter.formula)


@dataclass
class Summary:
    meter: Meter
    customer_id: str
    start: datetime
    end: datetime
    value: Decimal

    @property
    def id(self) -> str:
        return f"mtrsum_{self.meter.id}_{self.customer_id}_{int(self.start.timestamp())}"


async def summaries(meter_id: str, customer_id: str, start: datetime, end: datetime,
                    window: str | None = None) -> list[Summary]:
    """meterEventSummaries over [start, end): one summary, or one per UTC hour or day (only those with
    events), oldest first. The bounds must fall on whole minutes."""
    meter = await Meter.get_or_none(id=meter_id)
    if meter is None:
        raise not_found("billing.meter", meter_id, "meter")
    for value, param in ((start, "startTime"), (end, "endTime")):
        if value.second or value.microsecond:
            raise invalid("Summary bounds must fall on whole minutes (seconds 0).", param)
    if end <= start:
        raise invalid("endTime must be after startTime.", "endTime")
    rows = await _minute_rows(meter.id, customer_id, start, end)
    if window is None:
        total = Tally()
        for row in rows:
            _add_minute_row(total, row)
        value = total.value(meter.formula)
        return [Summary(meter, customer_id, start, end, value)] if value is not None else []
    windows: dict[datetime, Tally] = {}
    for row in rows:
        minute = row[0]
        key = minute.replace(minute=0) if window == "hour" else minute.replace(hour=0, minute=0)
        _add_minute_row(windows.setdefault(key, Tally()), row)
    length = timedelta(hours=1) if window == "hour" else timedelta(days=1)
    return [Summary(meter, customer_id, max(key, start), min(key + length, end), tally.value(meter.formula))
            for key, tally in windows.items()]


# ---------------------------------------------------------------- invoices

def _billable(sub, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Usage during a trial is not billed: the part of [start, end) after the trial."""
    if sub.trial_end is not None and sub.trial_end > start and (sub.trial_start is None or sub.trial_start < end):
        return min(max(start, sub.trial_end), end), end
    return start, end


def _priced(price: Price, total: Decimal) -> tuple[int, int]:
    """(quantity, amount) of a metered total. transform_quantity divides the total and rounds as the price
    says; a per-unit price multiplies the exact total; tiers take the total rounded half-up to units."""
    transform = price.transform_quantity
    if transform:
        rounding = ROUND_CEILING if transform.get("round") == "up" else ROUND_DOWN
        units = int((total / Decimal(transform["divide_by"])).to_integral_value(rounding=rounding))
        return units, round_amount(units * unit_amount_of(price))
    quantity = int(total.to_integral_value(rounding=ROUND_HALF_UP))
    if price.billing_scheme == "tiered":
        return quantity, amount_for(price, quantity)
    return quantity, round_amount(total * unit_amount_of(price))


async def meter_lines(sub, items, start: datetime, end: datetime) -> list[LineSpec]:
    """One line per item whose price has a meter: the customer's usage over [start, end), in arrears."""
    lines = []
    for item in items:
        price = await catalog_reads.price(item.price_id)
        if not price.recurring_meter_id:
            continue
        meter = await Meter.get(id=price.recurring_meter_id)
        billed_start, billed_end = _billable(sub, start, end)
        total = await usage(meter, sub.customer_id, billed_start, billed_end) if billed_start < billed_end else None
        quantity, amount = _priced(price, total or Decimal(0))
        name = await catalog_reads.product_name(price.product_id) or price.product_id
        lines.append(LineSpec(
            amount=amount, currency=sub.currency, period_start=start, period_end=end,
            description=f"{quantity} × {name} (usage)", price_id=price.id, quantity=quantity,
            unit_amount_excluding_tax=None if price.billing_scheme == "tiered" else unit_amount_of(price),
            subscription_id=sub.id, subscription_item_id=item.id,
        ))
    return lines
