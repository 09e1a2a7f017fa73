"""Tortoise configuration, start-up and shutdown, and migrations (in migrations/)."""
import os

from tortoise import Tortoise
from tortoise.migrations.api import migrate as migrate_api

from app.models import MODULES


def normalize_url(url: str) -> str:
    """Accept postgresql:// as well as Tortoise's postgres:// (asyncpg)."""
    if url.startswith("postgresql://"):
        return "postgres://" + url.removeprefix("postgresql://")
    return url


def tortoise_config(db_url: str) -> dict:
    return {
        "connections": {"default": normalize_url(db_url)},
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


async def init(db_url: str) -> None:
    """Connect. Run in the task that serves (aiohttp cleanup_ctx, arq on_startup)."""
    _ensure_sqlite_dir(db_url)
    await Tortoise.init(config=tortoise_config(db_url))


async def close() -> None:
    await Tortoise.close_connections()


async def migrate(db_url: str) -> None:
    """Apply every pending migration. Production never generates schemas."""
    _ensure_sqlite_dir(db_url)
    await migrate_api(config=tortoise_config(db_url))


async def ping() -> None:
    conn = Tortoise.get_connection("default")
    await conn.execute_query("SELECT 1")


# For Tortoise's own CLI (`tortoise -c app.db.TORTOISE_ORM makemigrations`).
TORTOISE_ORM = tortoise_config(os.environ.get("BILLING_DATABASE_URL") or "sqlite://var/billing.db")
