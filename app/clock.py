"""Every "now" in billing code comes from here, so test clocks can move it."""
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Real time, aware UTC, to the second (Stripe's timestamps are whole seconds)."""
    return datetime.now(UTC).replace(microsecond=0)


async def now_for(customer) -> datetime:
    """The customer's now: its test clock's frozen time, or real time."""
    clock_id = getattr(customer, "test_clock_id", None) if customer is not None else None
    if clock_id:
        from app.models.clocks import TestClock

        clock = await TestClock.get_or_none(id=clock_id)
        if clock is not None:
            return clock.frozen_time
    return utcnow()
