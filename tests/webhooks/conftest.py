"""Fixtures for webhook tests: the API allowing private webhook URLs (receivers listen on 127.0.0.1), the same
policy for the worker (read from the environment, as `billing worker` does), a fast retry schedule, and
receivers stopped after each test."""
from contextlib import asynccontextmanager

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from arq import ArqRedis

from app import keys
from app.config import Settings, WebhookSettings
from app.http import create_app
from tests.conftest import Api
from tests.webhooks.hooks import start_receiver

FAST_RETRIES = {"BILLING_WEBHOOK_ALLOW_PRIVATE": "1", "BILLING_WEBHOOK_FIRST_RETRY_SECONDS": "0.2",
                "BILLING_WEBHOOK_TIMEOUT_SECONDS": "2"}


@pytest.fixture
def worker_env(monkeypatch):
    for name, value in FAST_RETRIES.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@asynccontextmanager
async def _private_allowed_api(redis_url: str):
    app = create_app(Settings(webhook=WebhookSettings(allow_private=True)), redis_url, manage_db=False)
    secret = keys.generate()
    await keys.store(secret, name="test")
    async with TestClient(TestServer(app)) as client:
        yield Api(client, secret)


@pytest_asyncio.fixture
async def hook_api(db, redis, redis_url, worker_env):
    """The API with BILLING_WEBHOOK_ALLOW_PRIVATE=1, as `billing dev` runs it."""
    async with _private_allowed_api(redis_url) as api:
        yield api


@pytest_asyncio.fixture
async def pg_hook_api(pg_db, redis, redis_url, worker_env):
    """hook_api on PostgreSQL, for tests about concurrency."""
    async with _private_allowed_api(redis_url) as api:
        yield api


@pytest_asyncio.fixture
async def receiver():
    receiver = await start_receiver()
    yield receiver
    await receiver.server.close()


@pytest_asyncio.fixture
async def queue(redis, redis_url):
    """An arq connection, as a worker's ctx["redis"]."""
    pool = ArqRedis.from_url(redis_url)
    yield pool
    await pool.aclose()
