"""arq WorkerSettings: the jobs and cron jobs of `billing worker`, and its real-time billing cycle loop."""
import asyncio
import contextlib
import os

from arq import cron, func
from arq.connections import RedisSettings

from app import db
from app.config import load
from app.logs import setup_logging
from workers import billing, maintenance, usage, webhooks


async def startup(ctx: dict) -> None:
    settings = load()
    setup_logging(settings.log_level)
    ctx["db"] = await db.init(settings.db_url)
    await usage.start_drain(ctx)
    await webhooks.startup(ctx)
    ctx["settings"] = settings
    ctx["cycle_loop"] = asyncio.create_task(billing.cycle_loop(ctx))  # after init: it shares Tortoise's context


async def shutdown(ctx: dict) -> None:
    loop = ctx.pop("cycle_loop", None)
    if loop is not None:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    await webhooks.shutdown(ctx)
    await usage.stop_drain(ctx)
    await db.close(ctx.pop("db", None))


class WorkerSettings:
    # A delivery's attempts are tracked in the database (each has its own job id), so its results need no keeping.
    functions = [billing.advance_test_clock, func(webhooks.deliver_webhook, keep_result=0)]
    cron_jobs = [
        cron(maintenance.sweep_outbox, second={0, 30}, unique=True, run_at_startup=True),
        cron(webhooks.sweep_deliveries, second={15, 45}, unique=True, run_at_startup=True),
        cron(maintenance.purge_idempotency_records, minute={5}, second={0}, unique=True),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(os.environ.get("BILLING_REDIS_URL") or "redis://127.0.0.1:6379/0")
    max_jobs = 20
    job_timeout = 300
    poll_delay = 0.1  # webhooks and clock advances start within 100 ms of being queued (arq's default: 0.5 s)
