"""Billing jobs: the real-time cycle (cron) and test clock advances. Thin wrappers over app/billing."""
from app import outbox
from app.billing import clocks, cycle
from app.billing.events import atomic
from app.clock import utcnow
from app.models.clocks import TestClock
from workers import usage


def _dispatcher(ctx: dict):
    return lambda events: outbox.dispatch(ctx["redis"], events)


# A run stops reading new batches after this, so it ends before the next minute's run starts (arq's
# unique cron job ids already keep two workers from running the same minute).
CYCLE_SECONDS = 50


async def run_due_billing(ctx: dict) -> int:
    """Every step due by now for objects on real time (not on a test clock), after storing accepted usage."""
    await usage.flush(ctx["redis"])
    return await cycle.run_until(None, utcnow(), _dispatcher(ctx), max_seconds=CYCLE_SECONDS)


async def advance_test_clock(ctx: dict, clock_id: str) -> int:
    """Run every step due up to where the clock is going, in time order, then mark it READY."""
    clock = await TestClock.get_or_none(id=clock_id)
    if clock is None or clock.status != "advancing":
        return 0
    dispatch = _dispatcher(ctx)
    await usage.flush(ctx["redis"])  # every meter event accepted before the advance counts in its invoices
    try:
        ran = await cycle.run_until(clock.id, clock.advance_to, dispatch)
    except Exception:
        await TestClock.filter(id=clock.id).update(status="internal_failure")
        raise
    async with atomic() as uow:
        await clocks.finish_advance(clock.id)
    await dispatch(uow.events)
    return ran
