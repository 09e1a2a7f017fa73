"""A `billing worker` SIGKILLed while it drains meter events, on PostgreSQL: another worker claims what the
dead one held, and every accepted event is stored, and counted in the aggregates, exactly once."""
import asyncio
import os
import signal
import sys
from decimal import Decimal

from tortoise import connections

from app.billing import customers, meter_stream, meters, usage
from app.billing.events import atomic
from app.models.meters import MeterEvent, MeterUsageMinute
from tests.conftest import POSTGRES_URL

TOTAL = 60_000
BATCH = 1000


async def _worker(env: dict) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "app.cli", "worker", env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def _wait_until(condition, seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 (another process writes the database)
            await asyncio.sleep(0.02)


async def test_worker_killed_mid_drain_loses_and_doubles_nothing(pg_db, redis, redis_url):
    async with atomic():
        meter = await meters.create_meter(display_name="Calls", event_name="calls", formula="sum")
        ids = [(await customers.create_customer(email=f"k{i}@example.com")).id for i in range(20)]
    expected = Decimal(0)
    for batch in range(TOTAL // BATCH):
        events = [{"event_name": "calls", "identifier": f"e{batch}-{i}",
                   "payload": {"stripe_customer_id": ids[i % len(ids)], "value": str(i % 7)}} for i in range(BATCH)]
        expected += sum(Decimal(i % 7) for i in range(BATCH))
        result = await usage.accept(redis, events, dedup_seconds=600)
        assert result.accepted == BATCH
    database = connections.get("default").database
    env = dict(os.environ, BILLING_DATABASE_URL=POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}",
               BILLING_REDIS_URL=redis_url, BILLING_LOG_LEVEL="WARNING", BILLING_METER_DRAIN_ENTRIES="2",
               BILLING_METER_CLAIM_IDLE_SECONDS="1")

    async def all_stored() -> bool:
        return await MeterEvent.all().count() == TOTAL and not await meter_stream.backlog(redis)

    async def held() -> int:
        return (await redis.xpending(meter_stream.STREAM, meter_stream.GROUP))["pending"]

    killed = second = None
    try:
        # Kill a worker while it holds entries; a kill that lands between an ack and the next read (nothing
        # held) proves nothing, so then another worker is started and killed further on.
        for attempt in range(1, 4):
            killed = await _worker(env)
            threshold = 6_000 * attempt

            async def draining(threshold=threshold) -> bool:
                return await MeterEvent.all().count() >= threshold and await held() > 0

            await _wait_until(draining, 60)
            killed.send_signal(signal.SIGKILL)
            await killed.wait()
            pending = await held()
            if pending:
                break
        stored = await MeterEvent.all().count()
        assert stored < TOTAL and await meter_stream.backlog(redis)  # it died mid-drain
        second = await _worker(env)
        await _wait_until(all_stored, 120)
    finally:
        for process in (killed, second):
            if process is not None and process.returncode is None:
                process.terminate()
                await asyncio.wait_for(process.wait(), 15)
    assert pending >= 1  # the dead worker held entries that the second one claimed
    assert await MeterEvent.all().count() == TOTAL
    minutes = await MeterUsageMinute.filter(meter_id=meter.id).values_list("sum", "count")
    assert sum(c for _, c in minutes) == TOTAL and sum(s for s, _ in minutes) == expected
    total = Decimal(0)
    for customer in ids:
        total += await usage.usage(meter, customer, usage.EPOCH, usage.EPOCH.replace(year=3000))
    assert total == expected
