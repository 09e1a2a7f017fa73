"""The worker's meter event drain: a task (started in on_startup) that moves accepted events from the
Redis stream into the database, batch after batch, under the worker's consumer name (app/billing/meter_drain)."""
import asyncio
import logging

from redis.asyncio import Redis

from app import outbox
from app.billing import meter_drain, meter_stream
from app.config import load

log = logging.getLogger("workers.usage")
BLOCK_MS = 1000
CONSUMER = "meter_consumer"


def consumer(ctx: dict) -> str:
    """The worker's consumer name (a burst worker without `start_drain` gets one on first use)."""
    if CONSUMER not in ctx:
        ctx[CONSUMER] = meter_drain.consumer_name()
    return ctx[CONSUMER]


async def flush(ctx: dict) -> None:
    """Store every event accepted so far, before billing."""
    await meter_drain.flush(ctx["redis"], consumer(ctx), outbox.dispatcher(ctx["redis"]))


async def drain_forever(redis: Redis, consumer: str) -> None:
    await meter_stream.ensure_group(redis)
    settings = load()
    claim_idle_ms = int(settings.meter_claim_idle_seconds * 1000)
    dispatch = outbox.dispatcher(redis)
    while True:
        try:
            await meter_drain.drain_once(redis, consumer, dispatch, count=settings.meter_drain_entries,
                                         block_ms=BLOCK_MS, claim_idle_ms=claim_idle_ms)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("meter event drain failed; retrying")
            await asyncio.sleep(1)


async def start_drain(ctx: dict) -> None:
    ctx["meter_drain"] = asyncio.create_task(drain_forever(ctx["redis"], consumer(ctx)))


async def stop_drain(ctx: dict) -> None:
    task = ctx.get("meter_drain")
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
