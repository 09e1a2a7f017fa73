"""Test clocks: create, advance (the cycle runs every step due on the way), delete."""
from datetime import datetime

from app.billing import events, validation
from app.billing.errors import invalid
from app.billing.lookup import get
from app.billing.periods import add_months, boundary
from app.ids import new_id
from app.models.clocks import TestClock
from app.models.customers import Customer
from app.models.subscriptions import Subscription


async def create_test_clock(*, frozen_time, name: str | None = None) -> TestClock:
    clock = await TestClock.create(
        id=new_id("clock"), frozen_time=frozen_time.replace(microsecond=0),
        name=validation.string(name, "name", max_length=300),
    )
    await events.record("test_helpers.test_clock.created", clock, created=clock.frozen_time)
    return clock


async def delete_test_clock(id: str) -> TestClock:
    """As Stripe: deleting a clock deletes the customers (and so what they own) attached to it."""
    from app.billing.customers import delete_customer

    clock = await get(TestClock, id, kind="test_helpers.test_clock", lock=True)
    for customer_id in await Customer.filter(test_clock_id=clock.id, deleted=False).values_list("id", flat=True):
        await delete_customer(customer_id)
    clock.deleted = True
    await clock.save(update_fields=["deleted"])
    await events.record("test_helpers.test_clock.deleted", clock)
    return clock


async def _advance_limit(clock: TestClock) -> datetime:
    """Stripe's limit: two intervals of the shortest subscription on the clock (two years with none)."""
    rows = await Subscription.filter(test_clock_id=clock.id, status__not_in=("canceled", "incomplete_expired")) \
        .values_list("interval", "interval_count")
    if not rows:
        return add_months(clock.frozen_time, 24)
    return min(boundary(clock.frozen_time, interval, count, 2) for interval, count in rows)


async def start_advance(id: str, frozen_time: datetime) -> TestClock:
    """Mark the clock ADVANCING towards frozen_time; a worker job then runs the cycle up to it."""
    clock = await get(TestClock, id, kind="test_helpers.test_clock", lock=True)
    frozen_time = frozen_time.replace(microsecond=0)
    if clock.status == "advancing":
        raise invalid("This test clock is already advancing; wait until it is ready.", "id")
    if frozen_time <= clock.frozen_time:
        raise invalid("A test clock can only move forward: frozenTime must be after the current frozen time.",
                      "frozenTime")
    limit = await _advance_limit(clock)
    if frozen_time > limit:
        raise invalid(f"A test clock advances at most two intervals of its shortest subscription at a time "
                      f"(up to {limit.isoformat()}).", "frozenTime")
    clock.status = "advancing"
    clock.advance_to = frozen_time
    await clock.save(update_fields=["status", "advance_to"])
    await events.record("test_helpers.test_clock.advancing", clock, created=clock.frozen_time)
    return clock


async def finish_advance(id: str) -> TestClock | None:
    """Set the clock to where it was advancing and back to READY (after the cycle has run up to it)."""
    clock = await TestClock.filter(id=id).select_for_update().first()
    if clock is None or clock.status != "advancing":
        return None
    clock.frozen_time = clock.advance_to
    clock.advance_to = None
    clock.status = "ready"
    await clock.save(update_fields=["frozen_time", "advance_to", "status"])
    await events.record("test_helpers.test_clock.ready", clock, created=clock.frozen_time)
    return clock
