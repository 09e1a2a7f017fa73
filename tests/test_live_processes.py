"""Live updates across API processes: two real `billing serve` processes on one database and one Redis; a
change made through the first reaches a subscriber connected to the second, through Redis pub/sub. The
subscriber is `gql` with its websockets transport, a client library other than the server's, in both
protocols."""
import asyncio
import os
import sys
import tempfile
from contextlib import asynccontextmanager

import aiohttp
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from tortoise.contrib.test import tortoise_test_context

from app import keys
from app.models import MODULES
from tests.conftest import USE_POSTGRES, _fresh_postgres, new_postgres_url
from tests.test_production import _free_port

PRODUCT = """mutation { createProduct(input: {name: "Pro"}) { id } }"""
PRICE = """mutation($p: ID!) { createPrice(input: {product: $p, currency: "usd", unitAmount: 1000,
  recurring: {interval: MONTH}}) { id } }"""
FEATURE = """mutation { createFeature(input: {name: "SSO", lookupKey: "sso"}) { id } }"""
ATTACH = "mutation($p: ID!, $f: ID!) { createProductFeature(product: $p, entitlementFeature: $f) { id } }"
CUSTOMER = """mutation { createCustomer(input: {email: "a@example.com", paymentMethod: "pm_card_visa"}) { id } }"""
SUBSCRIBE = """mutation($c: ID!, $p: ID!) { createSubscription(input: {customer: $c, items: [{price: $p}]}) {
  id status } }"""
ENTITLEMENTS = """subscription($c: ID!) { activeEntitlementsChanged(customer: $c) {
  customer { id } entitlements { nodes { lookupKey } } } }"""
EVENTS = "subscription($t: [String!]) { events(types: $t) { id type data } }"
WAIT = 20
START_TIMEOUT = 60  # a busy machine imports slowly


async def _wait_ready(session: aiohttp.ClientSession, base: str, process) -> None:
    async with asyncio.timeout(START_TIMEOUT):
        while True:
            assert process.returncode is None, "billing serve exited"
            try:
                async with session.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


@asynccontextmanager
async def shared_database():
    """The URL of a database with the schema that this test and the processes share: a new PostgreSQL
    database with BILLING_TEST_DB=postgres, else an SQLite file."""
    if USE_POSTGRES:
        url = new_postgres_url()
        async with _fresh_postgres(url):
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite://{tmp}/billing.db"
            async with tortoise_test_context(MODULES, db_url=url):
                yield url


@asynccontextmanager
async def api_processes(count: int, db_url: str, redis_url: str):
    """`count` API processes (`billing serve`), ready; their base URLs."""
    env = dict(os.environ, BILLING_DATABASE_URL=db_url, BILLING_REDIS_URL=redis_url, BILLING_LOG_LEVEL="WARNING")
    env.pop("BILLING_SECRET_KEY", None)
    ports = [_free_port() for _ in range(count)]
    processes = [await asyncio.create_subprocess_exec(sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                                                      env=env) for port in ports]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        async with aiohttp.ClientSession() as session:
            for base, process in zip(bases, processes, strict=True):
                await _wait_ready(session, base, process)
        yield bases
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
                await asyncio.wait_for(process.wait(), 15)


class Http:
    def __init__(self, session: aiohttp.ClientSession, base: str, secret: str) -> None:
        self.session, self.base, self.secret = session, base, secret

    async def ok(self, query: str, variables: dict | None = None) -> dict:
        async with self.session.post(f"{self.base}/graphql", json={"query": query, "variables": variables or {}},
                                     headers={"Authorization": f"Bearer {self.secret}"}) as response:
            body = await response.json()
        assert response.status == 200 and not body.get("errors"), body
        return body["data"]


@pytest.mark.parametrize("protocol", [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL,
                                      WebsocketsTransport.APOLLO_SUBPROTOCOL])
async def test_a_change_through_one_process_reaches_a_subscriber_of_another(redis, redis_url, protocol):
    async with shared_database() as db_url:
        secret = keys.generate()
        await keys.store(secret, name="test")
        async with api_processes(2, db_url, redis_url) as (a, b), aiohttp.ClientSession() as session:
            http = Http(session, a, secret)
            product = (await http.ok(PRODUCT))["createProduct"]["id"]
            price = (await http.ok(PRICE, {"p": product}))["createPrice"]["id"]
            feature = (await http.ok(FEATURE))["createFeature"]["id"]
            await http.ok(ATTACH, {"p": product, "f": feature})
            customer = (await http.ok(CUSTOMER))["createCustomer"]["id"]

            transport = WebsocketsTransport(url=b.replace("http", "ws") + "/graphql", subprotocols=[protocol],
                                            init_payload={"authorization": f"Bearer {secret}"})
            async with Client(transport=transport) as live:
                entitlements = live.subscribe(GraphQLRequest(ENTITLEMENTS, variable_values={"c": customer}))
                events = live.subscribe(GraphQLRequest(EVENTS, variable_values={
                    "t": ["customer.subscription.created"]}))
                first = await asyncio.wait_for(anext(entitlements), WAIT)
                assert first["activeEntitlementsChanged"] == {"customer": {"id": customer},
                                                              "entitlements": {"nodes": []}}
                pending_event = asyncio.ensure_future(anext(events))
                await asyncio.sleep(0.2)  # the events subscription is registered on B
                sub = (await http.ok(SUBSCRIBE, {"c": customer, "p": price}))["createSubscription"]
                changed = await asyncio.wait_for(anext(entitlements), WAIT)
                assert changed["activeEntitlementsChanged"]["entitlements"]["nodes"] == [{"lookupKey": "sso"}]
                event = (await asyncio.wait_for(pending_event, WAIT))["events"]
                assert event["type"] == "customer.subscription.created" and event["data"]["object"]["id"] == sub["id"]
                await entitlements.aclose()
                await events.aclose()
