"""Tortoise configuration, start-up and shutdown, and migrations (in migrations/)."""
import os

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate as migrate_api

from app.config import load
from app.models import MODULES


class SessionlessConnection(asyncpg.Connection):
    """An asyncpg connection the pool hands back without `RESET ALL; UNLISTEN *; ...`, saving a round trip
    (and a transaction) per query. asyncpg still rolls back an open transaction on release. Safe because the
    app keeps no session state: no SET (use SET LOCAL), LISTEN, session advisory locks (use
    pg_advisory_xact_lock), cursors outside transactions or temporary tables."""

    def get_reset_query(self) -> str:
        return ""


def normalize_url(url: str) -> str:
    """Accept postgresql:// as well as Tortoise's postgres:// (asyncpg)."""
    if url.startswith("postgresql://"):
        return "postgres://" + url.removeprefix("postgresql://")
    return url


def connection_config(db_url: str) -> str | dict:
    """PostgreSQL (asyncpg): a pool of BILLING_DB_POOL_SIZE connections (unless the URL sets maxsize)
    without the reset on release. SQLite: transactions that lock for writing at BEGIN (app/sqlite_backend).
    Other databases: the URL as it is."""
    url = normalize_url(db_url)
    if url.startswith("sqlite://"):
        config = expand_db_url(url)
        config["engine"] = "app.sqlite_backend"
        return config
    if not url.startswith("postgres://"):
        return url
    config = expand_db_url(url)
    config["credentials"].setdefault("maxsize", load().db_pool_size)
    config["credentials"]["connection_class"] = SessionlessConnection
    return config


def tortoise_config(db_url: str) -> dict:
    return {
        "connections": {"default": connection_config(db_url)},
        "apps": {
            "models": {"models": MODULES, "default_connection": "default", "migrations": "migrations"},
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _ensure_sqlite_dir(db_url: str) -> None:
    if db_url.startswith("sqlite://") and ":memory:" not in db_url:
        directory = os.path.dirname(db_url.removeprefix("sqlite://"))
        if directory:
            os.makedirs(directory, exist_ok=True)


async def init(db_url: str) -> TortoiseContext:
    """Connect. Run in the task that serves (aiohttp cleanup_ctx, arq on_startup): Tortoise's context lives in
    that task's contextvars and the tasks it starts."""
    _ensure_sqlite_dir(db_url)
    return await Tortoise.init(config=tortoise_config(db_url))


async def close(context: TortoiseContext | None = None) -> None:
    """Close the connections of `context` (what `init` returned), by default the current task's. A shutdown hook
    running in another task (arq's on_shutdown) must pass it: an SQLite connection left open keeps its thread,
    and the process, alive."""
    if context is None:
        await Tortoise.close_connections()
    else:
        await context.close_connections()


async def migrate(db_url: str) -> None:
    """Apply every pending migration. Production never generates schemas. Closes the connections it opened:
    an open SQLite connection's thread keeps the process from exiting."""
    _ensure_sqlite_dir(db_url)
    try:
        await migrate_api(config=tortoise_config(db_url))
    finally:
        await Tortoise.close_connections()


async def ping() -> None:
    conn = Tortoise.get_connection("default")
    await conn.execute_query("SELECT 1")


# For Tortoise's own CLI (`tortoise -c app.db.TORTOISE_ORM makemigrations`).
TORTOISE_ORM = tortoise_config(os.environ.get("BILLING_DATABASE_URL") or "sqlite://var/billing.db")
