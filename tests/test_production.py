"""The production path, as an operator runs it: `billing migrate`, `billing serve` and `billing worker`
as processes, configured only by BILLING_* variables, on PostgreSQL and Redis."""
import asyncio
import json
import os
import socket
import sys
import uuid
from datetime import timedelta

import aiohttp
import asyncpg
import pytest

from app.clock import utcnow
from app.outbox import channel
from app.redis import connect
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, _postgres_reachable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _billing(*args: str, env: dict, stderr=None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "app.cli", *args, env=env, stderr=stderr)


@pytest.fixture
async def production_env(redis_url):
    if not await _postgres_reachable():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (BILLING_REQUIRE_POSTGRES=1) but {POSTGRES_URL} is unreachable")
        pytest.skip(f"needs PostgreSQL at {POSTGRES_URL}")
    name = f"billing_prod_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1))
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    env = dict(os.environ, BILLING_DATABASE_URL=database_url, BILLING_REDIS_URL=redis_url,
               BILLING_SECRET_KEY="sk_test_" + uuid.uuid4().hex, BILLING_LOG_LEVEL="WARNING")
    try:
        yield env
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _wait_ready(session: aiohttp.ClientSession, base: str, process: asyncio.subprocess.Process) -> None:
    for _ in range(100):
        assert process.returncode is None, "billing serve exited"
        try:
            async with session.get(f"{base}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("billing serve did not become ready")


async def test_migrate_serve_and_worker(production_env):
    env = production_env
    migrate = await _billing("migrate", env=env, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(migrate.communicate(), 60)
    assert migrate.returncode == 0, stderr.decode()
    port = _free_port()
    serve = await _billing("serve", "--port", str(port), env=env)
    worker = None
    try:
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {env['BILLING_SECRET_KEY']}"}
        async with aiohttp.ClientSession() as session:
            await _wait_ready(session, base, serve)
            query = 'mutation { createProduct(input: {name: "Prod"}) { id name } }'
            async with session.post(f"{base}/graphql", json={"query": query}, headers=headers) as response:
                body = await response.json()
            assert body["data"]["createProduct"]["name"] == "Prod"

        # An event committed by a process that died before dispatching it: the worker's sweep sends it.
        conn = await asyncpg.connect(env["BILLING_DATABASE_URL"].replace("postgres://", "postgresql://", 1))
        await conn.execute(
            "INSERT INTO events (id, type, object_id, data, pending_webhooks, dispatched, created) "
            "VALUES ('evt_orphan', 'product.updated', 'prod_x', '{\"object\": {\"id\": \"prod_x\"}}', 0, false, $1)",
            utcnow() - timedelta(minutes=5))
        redis = connect(env["BILLING_REDIS_URL"])
        pubsub = redis.pubsub()
        await pubsub.subscribe(channel(redis))
        worker = await _billing("worker", env=env)
        received = None
        async with asyncio.timeout(20):
            while received is None:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message and json.loads(message["data"])["id"] == "evt_orphan":
                    received = json.loads(message["data"])
        assert received["type"] == "product.updated"
        async with asyncio.timeout(10):  # marked after publishing: delivery is at least once
            while not await conn.fetchval("SELECT dispatched FROM events WHERE id = 'evt_orphan'"):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        await pubsub.aclose()
        await redis.aclose()
        await conn.close()
    finally:
        for process in (serve, worker):
            if process is not None and process.returncode is None:
                process.terminate()
                await asyncio.wait_for(process.wait(), 15)
