"""Billing jobs: the real-time cycle and test clock advances. Thin wrappers over app/billing."""
import asyncio
import logging
import time

from app import outbox
from app.billing import clocks, cycle
from app.billing.events import atomic
from app.clock import utcnow
from app.models.clocks import TestClock
from workers import usage

log = logging.getLogger(__name__)

# A run stops reading new batches after this; the loop starts the next one (every CYCLE_EVERY at most).
CYCLE_SECONDS = 50
CYCLE_EVERY = 60


async def run_due_billing(ctx: dict) -> int:
    """Every step due by now for objects on real time (not on a test clock), after storing accepted
    usage, in chunks of BILLING_CYCLE_CHUNK that other workers running it at the same time skip (SKIP LOCKED)."""
    await usage.flush(ctx)
    settings = ctx.get("settings")
    chunk = settings.cycle_chunk if settings else cycle.CHUNK
    return await cycle.run_until(None, utcnow(), outbox.dispatcher(ctx["redis"]), max_seconds=CYCLE_SECONDS,
                                 chunk=chunk)


async def cycle_loop(ctx: dict) -> None:
    """Each worker process runs the real-time cycle itself: at start, then a minute after each run
    began, or at once after a run cut short at CYCLE_SECONDS (work left). Every worker works on the
    due steps at the same time, each claiming chunks the others do not hold, where an arq cron job
    would run on one worker."""
    while True:
        started = time.monotonic()
        try:
            await run_due_billing(ctx)
        except Exception:
            log.exception("the billing cycle run failed")
        elapsed = time.monotonic() - started
        await asyncio.sleep(0 if elapsed >= CYCLE_SECONDS else CYCLE_EVERY - elapsed)


async def advance_test_clock(ctx: dict, clock_id: str) -> int:
    """Run every step due up to where the clock is going, in time order, then mark it READY."""
    clock = await TestClock.get_or_none(id=clock_id)
    if clock is None or clock.status != "advancing":
        return 0
    dispatch = outbox.dispatcher(ctx["redis"])
    await usage.flush(ctx)  # every meter event accepted before the advance counts in its invoices
    settings = ctx.get("settings")
    try:
        ran = await cycle.run_until(clock.id, clock.advance_to, dispatch,
                                    chunk=settings.cycle_chunk if settings else cycle.CHUNK)
    except Exception:
        await TestClock.filter(id=clock.id).update(status="internal_failure")
        raise
    async with atomic() as uow:
        await clocks.finish_advance(clock.id)
    await dispatch(uow.events)
    return ran
