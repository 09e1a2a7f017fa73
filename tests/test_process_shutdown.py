"""`billing migrate`, `serve` and `worker` on SQLite exit when done or told to: an aiosqlite connection left
open keeps a thread, and with it the process, alive (arq runs on_shutdown outside the task that connected)."""
import asyncio
import os
import uuid
from datetime import timedelta

import aiohttp

from app.clock import utcnow
from tests.test_production import _billing, _free_port, _wait_ready

EXIT_WITHIN = 20  # seconds; a process that hangs never exits


async def _ok(session: aiohttp.ClientSession, url: str, key: str, query: str, variables: dict) -> dict:
    async with session.post(url, json={"query": query, "variables": variables},
                            headers={"Authorization": f"Bearer {key}"}) as response:
        body = await response.json()
    assert "errors" not in body, body
    return body["data"]


async def test_processes_on_sqlite_exit(tmp_path, redis_url, redis):
    key = "sk_test_" + uuid.uuid4().hex
    env = dict(os.environ, BILLING_DATABASE_URL=f"sqlite://{tmp_path / 'billing.db'}", BILLING_REDIS_URL=redis_url,
               BILLING_SECRET_KEY=key, BILLING_LOG_LEVEL="WARNING")
    migrate = await _billing("migrate", env=env, stderr=asyncio.subprocess.PIPE)
    try:
        _, stderr = await asyncio.wait_for(migrate.communicate(), EXIT_WITHIN)
    finally:
        if migrate.returncode is None:
            migrate.kill()
            await migrate.wait()
    assert migrate.returncode == 0, stderr.decode()

    port = _free_port()
    serve = await _billing("serve", "--port", str(port), env=env)
    worker = await _billing("worker", env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            await _wait_ready(session, base, serve)
            start = utcnow().replace(microsecond=0)
            clock = await _ok(session, f"{base}/graphql", key,
                              "mutation($t: DateTime!) { createTestClock(input: {frozenTime: $t}) { id } }",
                              {"t": start.isoformat()})
            clock_id = clock["createTestClock"]["id"]
            await _ok(session, f"{base}/graphql", key,
                      "mutation($id: ID!, $t: DateTime!) { advanceTestClock(id: $id, frozenTime: $t) { status } }",
                      {"id": clock_id, "t": (start + timedelta(days=1)).isoformat()})
            status = None
            async with asyncio.timeout(EXIT_WITHIN):  # the worker has the advance done through its connection
                while status != "READY":
                    await asyncio.sleep(0.1)
                    data = await _ok(session, f"{base}/graphql", key,
                                     "query($id: ID!) { testClock(id: $id) { status } }", {"id": clock_id})
                    status = data["testClock"]["status"]
        for process in (serve, worker):
            process.terminate()
        for process in (serve, worker):
            await asyncio.wait_for(process.wait(), EXIT_WITHIN)
    finally:
        for process in (serve, worker):
            if process.returncode is None:
                process.kill()
                await process.wait()
