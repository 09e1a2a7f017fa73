"""`billing migrate`, `serve` and `worker` as processes on one SQLite file, as `billing dev` runs them.

They exit when done or told to (an aiosqlite connection left open keeps a thread, and with it the process,
alive; arq runs on_shutdown outside the task that connected), and the API's transactions do not fail with
"database is locked" when the worker writes at the same moment (app/sqlite_backend)."""
import asyncio
import os
import uuid
from contextlib import asynccontextmanager
from datetime import timedelta

import aiohttp

from app.clock import utcnow
from tests.test_production import _billing, _free_port, _wait_ready

EXIT_WITHIN = 20  # seconds; a process that hangs never exits


class Client:
    def __init__(self, session: aiohttp.ClientSession, url: str, key: str) -> None:
        self.session, self.url, self.key = session, url, key

    async def ok(self, query: str, variables: dict | None = None) -> dict:
        async with self.session.post(self.url, json={"query": query, "variables": variables or {}},
                                     headers={"Authorization": f"Bearer {self.key}"}) as response:
            body = await response.json()
        assert "errors" not in body, body
        return body["data"]


@asynccontextmanager
async def _processes(tmp_path, redis_url):
    """Migrate a new SQLite file, then run serve and worker on it; SIGTERM both at the end, which must end them."""
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
            yield Client(session, f"{base}/graphql", key)
        for process in (serve, worker):
            process.terminate()
        for process in (serve, worker):
            await asyncio.wait_for(process.wait(), EXIT_WITHIN)
    finally:
        for process in (serve, worker):
            if process.returncode is None:
                process.kill()
                await process.wait()


async def test_processes_on_sqlite_exit(tmp_path, redis_url, redis):
    async with _processes(tmp_path, redis_url) as api:
        start = utcnow().replace(microsecond=0)
        clock = await api.ok("mutation($t: DateTime!) { createTestClock(input: {frozenTime: $t}) { id } }",
                             {"t": start.isoformat()})
        clock_id = clock["createTestClock"]["id"]
        await api.ok("mutation($id: ID!, $t: DateTime!) { advanceTestClock(id: $id, frozenTime: $t) { status } }",
                     {"id": clock_id, "t": (start + timedelta(days=1)).isoformat()})
        status = None
        async with asyncio.timeout(EXIT_WITHIN):  # the worker has the advance done through its connection
            while status != "READY":
                await asyncio.sleep(0.1)
                data = await api.ok("query($id: ID!) { testClock(id: $id) { status } }", {"id": clock_id})
                status = data["testClock"]["status"]


async def test_api_and_worker_write_the_same_sqlite_file_at_once(tmp_path, redis_url, redis):
    """Events, then at once a cancellation that invoices them: the worker stores the events (and fires the
    alert they reach) while the API's transaction reads and writes. With deferred transactions most of these
    cancellations failed with "database is locked"."""
    async with _processes(tmp_path, redis_url) as api:
        meter = (await api.ok('mutation { createMeter(input: {displayName: "Calls", eventName: "calls", '
                              'formula: SUM}) { id } }'))["createMeter"]["id"]
        product = (await api.ok('mutation { createProduct(input: {name: "API"}) { id } }'))["createProduct"]["id"]
        price = (await api.ok("mutation($i: CreatePriceInput!) { createPrice(input: $i) { id } }", {"i": {
            "product": product, "currency": "usd", "unitAmount": 2,
            "recurring": {"interval": "MONTH", "usageType": "METERED", "meter": meter}}}))["createPrice"]["id"]
        await api.ok("mutation($i: CreateBillingAlertInput!) { createBillingAlert(input: $i) { id } }",
                     {"i": {"title": "Ten calls", "meter": meter, "gte": 10}})
        for _ in range(15):
            customer = (await api.ok('mutation { createCustomer(input: {email: "c@example.com", '
                                     'paymentMethod: "pm_card_visa"}) { id } }'))["createCustomer"]["id"]
            sub = (await api.ok("mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }",
                                {"i": {"customer": customer, "items": [{"price": price}]}}))["createSubscription"]
            events = [{"eventName": "calls", "payload": {"stripe_customer_id": customer, "value": v}} for v in "75"]
            await api.ok("mutation($e: [CreateMeterEventInput!]!) { createMeterEvents(events: $e) { accepted } }",
                         {"e": events})
            canceled = await api.ok("mutation($id: ID!) { cancelSubscription(id: $id, input: {invoiceNow: true}) "
                                    "{ status latestInvoice { total } } }", {"id": sub["id"]})
            assert canceled["cancelSubscription"] == {"status": "CANCELED", "latestInvoice": {"total": 24}}
