"""Live-updates benchmark: 1,000 websocket subscribers (100 customers x 10) over 2 API processes.

Creates a fresh PostgreSQL database with the schema, starts two `billing serve` processes on it and one Redis,
seeds 100 customers each subscribed to a Basic plan, and connects 10 graphql-transport-ws subscribers per
customer to `activeEntitlementsChanged`, alternating between the two processes. Then it changes the
customers' subscriptions (Basic <-> Pro, which moves their entitlements) at a steady rate through the first
process and measures, for every subscriber, the time from the mutation's answer to the message that shows
the new entitlements. Prints p50/p99/max per run, and medians over runs. See bench/README.md.

    .venv/bin/python bench/live_updates.py [--rate 10] [--changes 300] [--runs 3] [--redis-url redis://...]
"""
import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import statistics
import sys
import time
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CUSTOMERS = 100
PER_CUSTOMER = 10
WAIT_FOR_MESSAGES = 5.0
SUBSCRIPTION = """subscription($c: ID!) { activeEntitlementsChanged(customer: $c) {
  entitlements(first: 20) { nodes { lookupKey } } } }"""
UPDATE = """mutation($id: ID!, $item: ID!, $price: ID!) {
  updateSubscription(id: $id, input: {items: [{id: $item, price: $price}], prorationBehavior: NONE}) { id } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(q * len(ordered) + 0.5)) - 1))]


async def _schema(db_url: str, secret: str) -> None:
    """The schema from the models (as the tests build it) and the API key."""
    from tortoise import Tortoise

    from app import keys
    from app.models import MODULES

    await Tortoise.init(db_url=db_url, modules={"models": MODULES})
    await Tortoise.generate_schemas()
    await keys.store(secret, name="bench")
    await Tortoise.close_connections()


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str, secret: str) -> None:
        self.session, self.base, self.headers = session, base, {"Authorization": f"Bearer {secret}"}

    async def ok(self, query: str, variables: dict | None = None) -> dict:
        async with self.session.post(f"{self.base}/graphql", json={"query": query, "variables": variables or {}},
                                     headers=self.headers) as response:
            body = await response.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body["data"]


async def _plan(api: Api, name: str, keys: list[str]) -> str:
    product = (await api.ok("mutation($n: String!) { createProduct(input: {name: $n}) { id } }",
                            {"n": name}))["createProduct"]["id"]
    price = (await api.ok("""mutation($p: ID!) { createPrice(input: {product: $p, currency: "usd", unitAmount: 1000,
        recurring: {interval: MONTH}}) { id } }""", {"p": product}))["createPrice"]["id"]
    for key in keys:
        feature = (await api.ok("mutation($k: String!) { createFeature(input: {name: $k, lookupKey: $k}) { id } }",
                                {"k": f"{name}-{key}"}))["createFeature"]["id"]
        await api.ok("mutation($p: ID!, $f: ID!) { createProductFeature(product: $p, entitlementFeature: $f) { id } }",
                     {"p": product, "f": feature})
    return price


async def _seed(api: Api) -> tuple[str, str, list[dict]]:
    basic = await _plan(api, "basic", ["reports", "export"])
    pro = await _plan(api, "pro", ["reports", "export", "sso", "audit"])

    async def customer(i: int) -> dict:
        c = (await api.ok("""mutation($e: String!) { createCustomer(input: {email: $e, paymentMethod: "pm_card_visa"})
            { id } }""", {"e": f"c{i}@example.com"}))["createCustomer"]["id"]
        sub = (await api.ok("""mutation($c: ID!, $p: ID!) { createSubscription(input: {customer: $c,
            items: [{price: $p}]}) { id items { nodes { id } } } }""", {"c": c, "p": basic}))["createSubscription"]
        return {"customer": c, "subscription": sub["id"], "item": sub["items"]["nodes"][0]["id"], "on": basic}

    customers = []
    for start in range(0, CUSTOMERS, 10):
        customers += await asyncio.gather(*(customer(i) for i in range(start, start + 10)))
    return basic, pro, customers


class Subscriber:
    """One websocket connection subscribed to one customer's entitlements; records when each message came."""

    def __init__(self, customer: str) -> None:
        self.customer = customer
        self.messages: list[tuple[float, frozenset[str]]] = []
        self.first = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def run(self, session: aiohttp.ClientSession, url: str, secret: str) -> None:
        async with session.ws_connect(url, protocols=["graphql-transport-ws"], max_msg_size=0) as ws:
            await ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {secret}"}})
            ack = await ws.receive_json()
            assert ack["type"] == "connection_ack", ack
            await ws.send_json({"id": "1", "type": "subscribe",
                                "payload": {"query": SUBSCRIPTION, "variables": {"c": self.customer}}})
            async for frame in ws:
                now = time.perf_counter()
                message = json.loads(frame.data)
                if message.get("type") != "next":
                    continue
                nodes = message["payload"]["data"]["activeEntitlementsChanged"]["entitlements"]["nodes"]
                self.messages.append((now, frozenset(n["lookupKey"] for n in nodes)))
                self.first.set()


async def _connect_all(session, urls: list[str], secret: str, customers: list[dict]) -> list[Subscriber]:
    subscribers = []
    for i, c in enumerate(customers):
        for j in range(PER_CUSTOMER):
            subscriber = Subscriber(c["customer"])
            subscriber.task = asyncio.create_task(subscriber.run(session, urls[(i + j) % len(urls)], secret))
            subscribers.append(subscriber)
        if i % 10 == 9:
            await asyncio.gather(*(s.first.wait() for s in subscribers))
    await asyncio.wait_for(asyncio.gather(*(s.first.wait() for s in subscribers)), 60)
    return subscribers


async def _drive(api: Api, basic: str, pro: str, customers: list[dict], subscribers: list[Subscriber], rate: float,
                 changes: int) -> dict:
    by_customer: dict[str, list[Subscriber]] = {}
    for s in subscribers:
        by_customer.setdefault(s.customer, []).append(s)
    plans = {basic: frozenset({"basic-reports", "basic-export"}),
             pro: frozenset({"pro-reports", "pro-export", "pro-sso", "pro-audit"})}
    done: list[tuple[dict, str, float, float]] = []  # (customer, price it moved to, time sent, time answered)
    started = time.perf_counter()

    async def change(n: int) -> None:
        c = customers[n % len(customers)]
        target = pro if c["on"] == basic else basic
        c["on"] = target
        sent = time.perf_counter()
        await api.ok(UPDATE, {"id": c["subscription"], "item": c["item"], "price": target})
        done.append((c, target, sent, time.perf_counter()))

    tasks = []
    for n in range(changes):
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(change(n)))
    await asyncio.gather(*tasks)
    await asyncio.sleep(WAIT_FOR_MESSAGES)
    latencies, missing = [], 0
    answers = []
    for c, target, sent, answered in done:
        answers.append((answered - sent) * 1000)
        for s in by_customer[c["customer"]]:
            # The first message since the mutation was sent that shows the new set (it may come before the answer).
            arrival = next((t for t, keys in s.messages if keys == plans[target] and t >= sent), None)
            if arrival is None:
                missing += 1
            else:
                latencies.append((arrival - answered) * 1000)
            s.messages = [(t, k) for t, k in s.messages if arrival is None or t > arrival]
    return {"messages": len(latencies), "missing": missing, "answer_p50": _nearest_rank(answers, 0.5),
            "answer_p99": _nearest_rank(answers, 0.99), "p50": _nearest_rank(latencies, 0.50),
            "p99": _nearest_rank(latencies, 0.99), "max": max(latencies), "min": min(latencies),
            "seconds": time.perf_counter() - started - WAIT_FOR_MESSAGES}


async def main(args) -> None:
    pg = args.pg_server.replace("postgres://", "postgresql://", 1)
    admin = await asyncpg.connect(pg + "/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{args.db_name}"')
    db_url = f"{args.pg_server}/{args.db_name}"
    secret = "sk_test_" + secrets.token_hex(16)
    await _schema(db_url, secret)
    ports = [_free_port(), _free_port()]
    env = dict(os.environ, BILLING_DATABASE_URL=db_url, BILLING_REDIS_URL=args.redis_url, BILLING_LOG_LEVEL="WARNING")
    env.pop("BILLING_SECRET_KEY", None)
    processes = [await asyncio.create_subprocess_exec(sys.executable, "-m", "app.cli", "serve", "--port", str(p),
                                                      cwd=ROOT, env=env) for p in ports]
    try:
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            for base in bases:
                for _ in range(600):
                    try:
                        async with session.get(f"{base}/readyz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    await asyncio.sleep(0.1)
            api = Api(session, bases[0], secret)
            basic, pro, customers = await _seed(api)
            t0 = time.perf_counter()
            subscribers = await _connect_all(session, [b.replace("http", "ws") + "/graphql" for b in bases], secret,
                                             customers)
            print(f"{len(subscribers)} subscribers connected over {len(bases)} processes in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
            results = []
            for run in range(args.runs):
                result = await _drive(api, basic, pro, customers, subscribers, args.rate, args.changes)
                results.append(result)
                print(f"run {run + 1}: {args.changes} changes at {args.rate}/s in {result['seconds']:.1f} s, "
                      f"{result['messages']} messages ({result['missing']} missing): p50 {result['p50']:.1f} ms, "
                      f"p99 {result['p99']:.1f} ms, max {result['max']:.1f} ms, min {result['min']:.1f} ms; "
                      f"mutation answered in p50 {result['answer_p50']:.0f} ms, p99 {result['answer_p99']:.0f} ms",
                      flush=True)
            print(f"median of {args.runs}: p50 {statistics.median(r['p50'] for r in results):.1f} ms, "
                  f"p99 {statistics.median(r['p99'] for r in results):.1f} ms, "
                  f"missing {sum(r['missing'] for r in results)}")
            for s in subscribers:
                s.task.cancel()
            await asyncio.gather(*(s.task for s in subscribers), return_exceptions=True)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.wait_for(process.wait(), 30)
        await admin.execute(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-server", default=os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--db-name", default=os.environ.get("BENCH_DB_NAME", "billing_bench_live"))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--rate", type=float, default=10.0, help="subscription changes per second")
    parser.add_argument("--changes", type=int, default=300, help="changes per run")
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
