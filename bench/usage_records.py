"""createUsageRecord through one API process on PostgreSQL: throughput and latency, with one item per
client (no contention) and with every client on one item (they queue on its row lock), then checks
that the summed usage equals the records accepted.

Run: .venv/bin/python bench/usage_records.py [--clients 1 10] [--seconds 10]
The database (--db-name, default billing_bench_usage) is dropped and recreated.
"""
import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
RECORD = ("mutation($input: CreateUsageRecordInput!) { createUsageRecord(input: $input) { id } }")
SUMMARY = ("query($s: ID!) { subscription(id: $s) { items { nodes { id "
           "usageRecordSummaries(first: 1) { nodes { totalUsage } } } } } }")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-server", default=os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--db-name", default="billing_bench_usage")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4"))
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--seconds", type=float, default=10)
    return parser.parse_args()


async def recreate(server: str, name: str) -> None:
    admin = await asyncpg.connect(server.replace("postgres://", "postgresql://", 1) + "/postgres", timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def call(session, url, headers, query: str, variables: dict) -> dict:
    async with session.post(url, json={"query": query, "variables": variables}, headers=headers) as resp:
        body = await resp.json()
    if resp.status != 200 or body.get("errors"):
        raise RuntimeError(f"request failed ({resp.status}): {body}")
    return body["data"]


async def setup(session, url, headers, subscriptions: int) -> list[tuple[str, str]]:
    """`subscriptions` subscriptions to one metered price (real time): their (subscription, item) ids."""
    product = (await call(session, url, headers, 'mutation { createProduct(input: {name: "Calls"}) { id } }',
                          {}))["createProduct"]["id"]
    price = (await call(session, url, headers, "mutation($i: CreatePriceInput!) { createPrice(input: $i) { id } }",
                        {"i": {"product": product, "currency": "usd", "unitAmount": 1, "recurring": {
                            "interval": "MONTH", "usageType": "METERED"}}}))["createPrice"]["id"]
    customer = (await call(session, url, headers, 'mutation { createCustomer(input: {email: "b@example.com", '
                           'paymentMethod: "pm_card_visa"}) { id } }', {}))["createCustomer"]["id"]
    result = []
    for _ in range(subscriptions):
        sub = (await call(session, url, headers, "mutation($i: CreateSubscriptionInput!) { createSubscription("
                          "input: $i) { id items { nodes { id } } } }",
                          {"i": {"customer": customer, "items": [{"price": price}]}}))["createSubscription"]
        result.append((sub["id"], sub["items"]["nodes"][0]["id"]))
    return result


async def drive(session, url, headers, items: list[str], seconds: float) -> list[float]:
    """Each client loops on its item (items[i % len]) for `seconds`; returns the latencies."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def client(item: str) -> None:
        variables = {"input": {"subscriptionItem": item, "quantity": 1}}
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await call(session, url, headers, RECORD, variables)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client(item) for item in items))
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def bench(args, port: int, secret: str) -> list[str]:
    url, headers = f"http://127.0.0.1:{port}/graphql", {"Authorization": f"Bearer {secret}"}
    rows = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for _ in range(300):
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    if resp.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        for clients in args.clients:
            for shape in ("own item", "one item"):
                subs = await setup(session, url, headers, clients if shape == "own item" else 1)
                items = [subs[i % len(subs)][1] for i in range(clients)]
                await drive(session, url, headers, items, 1)  # warm-up
                before = await totals(session, url, headers, subs)
                latencies = await drive(session, url, headers, items, args.seconds)
                counted = await totals(session, url, headers, subs) - before
                rows.append(f"| {clients} | {shape} | {len(latencies) / args.seconds:.0f} | {pct(latencies, .5):.1f} "
                            f"| {pct(latencies, .99):.1f} | {counted == len(latencies)} |")
    return rows


async def totals(session, url, headers, subs) -> int:
    total = 0
    for sub, _ in subs:
        data = await call(session, url, headers, SUMMARY, {"s": sub})
        total += data["subscription"]["items"]["nodes"][0]["usageRecordSummaries"]["nodes"][0]["totalUsage"]
    return total


def main() -> None:
    args = parse_args()
    secret = "sk_test_bench_" + secrets.token_urlsafe(24)
    db_url = f"{args.pg_server}/{args.db_name}"
    asyncio.run(recreate(args.pg_server, args.db_name))
    env = dict(os.environ, BILLING_DATABASE_URL=db_url, BILLING_REDIS_URL=args.redis_url, BILLING_SECRET_KEY=secret,
               BILLING_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, cwd=ROOT, check=True, timeout=120,
                   stdout=subprocess.DEVNULL)
    port = free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            budget = 120 + len(args.clients) * 2 * (args.seconds + 30)
            rows = asyncio.run(asyncio.wait_for(bench(args, port, secret), timeout=budget))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    print("| clients | items | records/s | p50 ms | p99 ms | sum exact |\n|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
