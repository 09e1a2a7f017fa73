"""Test fixtures: a fresh database per test (SQLite in memory, or a new PostgreSQL database with
BILLING_TEST_DB=postgres), a real Redis (BILLING_TEST_REDIS_URL, or an embedded one), and the API
served over real HTTP."""
import os
import tempfile
import uuid
from contextlib import asynccontextmanager

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.contrib.test import tortoise_test_context

from app import keys
from app.billing import usage
from app.config import Settings
from app.http import create_app
from app.models import MODULES
from app.redis import EmbeddedRedis, connect

POSTGRES_URL = os.environ.get("BILLING_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
USE_POSTGRES = os.environ.get("BILLING_TEST_DB", "sqlite") == "postgres"
REQUIRE_POSTGRES = os.environ.get("BILLING_REQUIRE_POSTGRES") == "1"


def new_postgres_url() -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/billing_test_{uuid.uuid4().hex}"


@asynccontextmanager
async def _fresh_postgres(db_url: str | None = None):
    """A new PostgreSQL database with the schema (at db_url, or a new one), dropped afterwards (Tortoise
    creates it, never drops it)."""
    db_url = db_url or new_postgres_url()
    name = db_url.rsplit("/", 1)[1]
    try:
        async with tortoise_test_context(MODULES, db_url=db_url) as ctx:
            yield ctx
    finally:
        admin = await asyncpg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _postgres_reachable() -> bool:
    try:
        conn = await asyncpg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1), timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@pytest.fixture(autouse=True)
def _fresh_meter_lookups():
    """The API's per-process meter cache lives a second: each test's database has its own meters."""
    usage.lookups.forget()


@pytest_asyncio.fixture
async def db():
    EXECUTOR_CACHE.clear()  # Tortoise caches SQL per table name, not per dialect: SQLite and PG tests mix
    if USE_POSTGRES:
        async with _fresh_postgres() as ctx:
            yield ctx
    else:
        async with tortoise_test_context(MODULES, db_url="sqlite://:memory:") as ctx:
            yield ctx


@pytest_asyncio.fixture
async def pg_db():
    """A fresh PostgreSQL database, for tests about locking and concurrency (SQLite ignores row locks)."""
    if not await _postgres_reachable():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (BILLING_REQUIRE_POSTGRES=1) but {POSTGRES_URL} is unreachable")
        pytest.skip(f"needs PostgreSQL at {POSTGRES_URL} (set BILLING_TEST_POSTGRES_URL)")
    EXECUTOR_CACHE.clear()
    async with _fresh_postgres() as ctx:
        yield ctx


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("BILLING_TEST_REDIS_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory() as data_dir:
        server = EmbeddedRedis(data_dir)
        yield server.start()
        server.stop()


@pytest_asyncio.fixture
async def redis(redis_url):
    client = connect(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


class Api:
    """A GraphQL client over real HTTP."""

    def __init__(self, client: TestClient, secret: str) -> None:
        self.client = client
        self.secret = secret

    async def post(self, query: str, variables: dict | None = None, *, secret: str | None = None,
                   headers: dict | None = None):
        all_headers = {"Authorization": f"Bearer {secret or self.secret}", **(headers or {})}
        response = await self.client.post("/graphql", json={"query": query, "variables": variables or {}},
                                          headers=all_headers)
        return response.status, await response.json()

    async def ok(self, query: str, variables: dict | None = None, **kwargs) -> dict:
        """The data of a request that must succeed."""
        status, body = await self.post(query, variables, **kwargs)
        assert status == 200 and not body.get("errors"), body
        return body["data"]

    async def error(self, query: str, variables: dict | None = None, **kwargs) -> dict:
        """The first error of a request that must fail; no partial data may be written by it."""
        status, body = await self.post(query, variables, **kwargs)
        assert body.get("errors"), body
        return body["errors"][0]


@pytest_asyncio.fixture
async def api(db, redis, redis_url):
    settings = Settings(max_body_bytes=256 * 1024)
    app = create_app(settings, redis_url, manage_db=False)
    secret = keys.generate()
    await keys.store(secret, name="test")
    async with TestClient(TestServer(app)) as client:
        yield Api(client, secret)


@pytest_asyncio.fixture
async def pg_api(pg_db, redis, redis_url):
    """The api fixture on PostgreSQL, for concurrent requests through HTTP."""
    app = create_app(Settings(max_body_bytes=256 * 1024), redis_url, manage_db=False)
    secret = keys.generate()
    await keys.store(secret, name="test")
    async with TestClient(TestServer(app)) as client:
        yield Api(client, secret)


@pytest_asyncio.fixture
async def run_worker(redis_url):
    """Run a real arq worker (burst mode) over the jobs queued so far, in this test's database context."""
    from arq import Worker
    from arq.connections import RedisSettings

    from workers.settings import WorkerSettings

    async def run() -> None:
        worker = Worker(functions=WorkerSettings.functions, redis_settings=RedisSettings.from_dsn(redis_url),
                        burst=True, poll_delay=0.01, handle_signals=False, max_jobs=5)
        try:
            await worker.main()
        finally:
            await worker.close()

    return run
