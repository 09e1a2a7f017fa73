"""Draining meter events from the Redis stream into the database, and the flush before billing.

Each `billing worker` runs a drain task (started in on_startup) under its own consumer name: it claims
entries a dead consumer left unacked for 30 s, else reads new ones, stores them in one transaction
(app/billing/usage.store), then acks and deletes them, then fires the billing alerts the new usage
reaches and completes pending adjustments. `flush` drains everything accepted so far, and runs
before billing, so an invoice counts every event accepted before its period end was processed.
"""
import asyncio
import logging
import os
import secrets
import socket

from redis.asyncio import Redis

from app import outbox
from app.billing import alerts, meter_stream, usage
from app.config import load

log = logging.getLogger("workers.usage")
BLOCK_MS = 1000
FLUSH_TIMEOUT = 120.0


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


async def drain_once(redis: Redis, consumer: str, *, count: int = 10, block_ms: int | None = None,
                     claim_idle_ms: int = meter_stream.CLAIM_IDLE_MS) -> int:
    """Store one batch of entries (claimed from a dead consumer, or new); returns how many entries."""
    entries = await meter_stream.claim(redis, consumer, count, claim_idle_ms)
    if not entries:
        entries = await meter_stream.read(redis, consumer, count, block_ms)
    if entries:
        pairs = await usage.store(entries)
        await meter_stream.ack(redis, entries)
        await alerts.check(pairs, lambda events: outbox.dispatch(redis, events))
    await usage.complete_pending_adjustments()
    return len(entries)


async def drain_forever(redis: Redis, consumer: str) -> None:
    await meter_stream.ensure_group(redis)
    settings = load()
    claim_idle_ms = int(settings.meter_claim_idle_seconds * 1000)
    while True:
        try:
            await drain_once(redis, consumer, count=settings.meter_drain_entries, block_ms=BLOCK_MS,
                             claim_idle_ms=claim_idle_ms)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("meter event drain failed; retrying")
            await asyncio.sleep(1)


async def flush(redis: Redis, consumer: str | None = None, within: float = FLUSH_TIMEOUT) -> None:
    """Store every event accepted before the call: drain new entries, and wait for (or, once idle for 30 s,
    claim) those other consumers hold."""
    consumer = consumer or consumer_name()
    await meter_stream.ensure_group(redis)
    upto = await meter_stream.last_id(redis)
    async with asyncio.timeout(within):
        while upto is not None and await meter_stream.backlog(redis, upto):
            if not await drain_once(redis, consumer):
                await asyncio.sleep(0.05)
    await usage.complete_pending_adjustments()


async def start_drain(ctx: dict) -> None:
    ctx["meter_drain"] = asyncio.create_task(drain_forever(ctx["redis"], consumer_name()))


async def stop_drain(ctx: dict) -> None:
    task = ctx.get("meter_drain")
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
