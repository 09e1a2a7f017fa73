"""Moving accepted meter events from the Redis stream into the database, and the flush before billing.

Each `billing worker` drains continuously (workers/usage.py) under its own consumer name; each API
process has one too, for the flush it runs before a mutation that may invoice usage at once (cancel
with invoiceNow, a billing cycle anchor reset). `drain_once` claims entries a dead consumer left
unacked, else reads new ones, stores them in one transaction (usage.store), then acks and deletes
them, then fires the billing alerts the new usage reaches and completes pending adjustments. `flush`
drains everything accepted before it was called, so an invoice counts every event accepted before it.
"""
import asyncio
import os
import secrets
import socket
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from app.billing import alerts, meter_stream, usage
from app.billing.errors import BillingError

FLUSH_TIMEOUT = 120.0

Dispatch = Callable[[list], Awaitable[None]]


def consumer_name() -> str:
    """One per process: the group keeps an entry per consumer name, so names must not be made per call."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


async def drain_once(redis: Redis, consumer: str, dispatch: Dispatch, *, count: int = 10,
                     block_ms: int | None = None, claim_idle_ms: int = meter_stream.CLAIM_IDLE_MS) -> int:
    """Store one batch of entries (claimed from a dead consumer, or new); returns how many entries."""
    entries = await meter_stream.claim(redis, consumer, count, claim_idle_ms)
    if not entries:
        entries = await meter_stream.read(redis, consumer, count, block_ms)
    if entries:
        pairs = await usage.store(entries)
        await meter_stream.ack(redis, entries)
        await alerts.check(pairs, dispatch)
    await usage.complete_pending_adjustments()
    return len(entries)


async def flush(redis: Redis, consumer: str, dispatch: Dispatch, within: float = FLUSH_TIMEOUT) -> None:
    """Store every event accepted before the call: drain new entries, and wait for (or, once idle for 30 s,
    claim) those other consumers hold. Raises an api_error when that takes longer than `within` seconds."""
    await meter_stream.ensure_group(redis)
    upto = await meter_stream.last_id(redis)
    try:
        async with asyncio.timeout(within):
            while upto is not None and await meter_stream.backlog(redis, upto):
                if not await drain_once(redis, consumer, dispatch):
                    await asyncio.sleep(0.05)
    except TimeoutError:
        raise BillingError("Meter events accepted before this request are still being stored; retry shortly.",
                           type="api_error", code="usage_not_stored") from None
    await usage.complete_pending_adjustments()
