"""Migrations are the only way the production schema changes: they must match the models and apply
cleanly to an empty database."""
import uuid
from pathlib import Path

import asyncpg
from tortoise import Tortoise
from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from app import db
from app.models.catalog import Product
from tests.conftest import POSTGRES_URL, USE_POSTGRES


async def test_models_have_no_unmigrated_changes(tmp_path):
    config = db.tortoise_config(f"sqlite://{tmp_path / 'drift.db'}")
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        changes = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    assert not changes, "models changed without a migration: run `tortoise -c app.db.TORTOISE_ORM makemigrations`"


async def _fresh_database_url(tmp_path) -> tuple[str, object]:
    if not USE_POSTGRES:
        return f"sqlite://{tmp_path / 'migrated.db'}", None
    name = f"billing_migrate_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1))
    await admin.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}", (admin, name)


async def test_migrations_apply_to_an_empty_database(tmp_path):
    url, cleanup = await _fresh_database_url(tmp_path)
    try:
        async with TortoiseContext():
            await db.migrate(url)
            await db.migrate(url)  # a second run applies nothing and does not fail
            await db.close()
        async with TortoiseContext():
            await db.init(url)
            await Product.create(id="prod_m", name="Migrated", updated=Product._meta.fields_map["created"].default())
            assert await Product.filter(name="Migrated").count() == 1
            rows = await Tortoise.get_connection("default").execute_query_dict("SELECT name FROM tortoise_migrations")
            assert {r["name"] for r in rows} >= {"0001_initial"}
            await db.close()
    finally:
        if cleanup is not None:
            admin, name = cleanup
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


def test_schema_file_is_exported_from_the_code():
    from app.graphql.schema import schema

    exported = Path(__file__).parents[1] / "schema.graphql"
    assert exported.read_text() == schema.as_str() + "\n", "schema.graphql is stale: run `billing export-schema`"
