"""arq WorkerSettings: the jobs and cron jobs of `billing worker`."""
import os

from arq import cron
from arq.connections import RedisSettings

from app import db
from app.config import load
from app.logs import setup_logging
from workers import billing, maintenance, usage


async def startup(ctx: dict) -> None:
    settings = load()
    setup_logging(settings.log_level)
    await db.init(settings.db_url)
    await usage.start_drain(ctx)


async def shutdown(ctx: dict) -> None:
    await usage.stop_drain(ctx)
    await db.close()


class WorkerSettings:
    functions = [billing.advance_test_clock]
    cron_jobs = [
        cron(billing.run_due_billing, second={0}, unique=True, run_at_startup=True),
        cron(maintenance.sweep_outbox, second={0, 30}, unique=True, run_at_startup=True),
        cron(maintenance.purge_idempotency_records, minute={5}, second={0}, unique=True),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(os.environ.get("BILLING_REDIS_URL") or "redis://127.0.0.1:6379/0")
    max_jobs = 20
    job_timeout = 300
