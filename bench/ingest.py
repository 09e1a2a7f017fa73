"""Ingestion benchmark: meter events through `createMeterEvents` into one API process and one worker.

Creates a fresh PostgreSQL database (schema from the models), starts one `billing serve` and one
`billing worker` on it and on Redis, creates a SUM meter and customers through the API, then runs
`--clients` load-generator processes, each with `--concurrency` connections sending batches of `--batch`
events (unique identifiers, default timestamps) back to back for `--seconds`. Meanwhile a probe in this
process sends one event for its own customer every 200 ms and polls `meterEventSummaries` until the
event counts: the lag from acceptance (the answer received) to being counted. The API's RSS is sampled
every second. Prints a markdown table and a JSON line. See bench/README.md.

    .venv/bin/python bench/ingest.py [--seconds 300] [--clients 3] [--concurrency 4] [--batch 500]
"""
import argparse
import asyncio
import json
import math
import multiprocessing
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
SECRET = "sk_test_bench_" + "x" * 24
EVENT_NAME = "bench_calls"
CUSTOMERS = 100
PROBE_EVERY = 0.2
TOKEN = b"@@@@@@@@@@@@"

EVENTS = ("mutation Ingest($events: [CreateMeterEventInput!]!) { createMeterEvents(events: $events) { "
          "accepted duplicates errors { index code } } }")
SUMMARY = ("query Lag($m: ID!, $c: ID!, $s: DateTime!, $e: DateTime!) { meterEventSummaries(meter: $m, "
           "customer: $c, startTime: $s, endTime: $e) { aggregatedValue } }")


def parse_args(argv=None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pg-server", default=env("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432"))
    p.add_argument("--db-name", default=env("BENCH_DB_NAME", "billing_bench_ingest"), help="dropped and recreated")
    p.add_argument("--redis-url", default=env("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"), help="flushed")
    p.add_argument("--seconds", type=float, default=300.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=10.0, help="unmeasured seconds first")
    p.add_argument("--clients", type=int, default=3, help="load-generator processes")
    p.add_argument("--concurrency", type=int, default=4, help="connections per load-generator process")
    p.add_argument("--batch", type=int, default=500, help="events per request")
    p.add_argument("--rate", type=float, default=0.0,
                   help="offered events/s over all connections, paced evenly (default 0: back to back, as fast as "
                        "the API answers)")
    p.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    return p.parse_args(argv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _reset(args) -> str:
    """Flush the bench's Redis db; drop and create the database. Returns its URL."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(args.redis_url)
    await client.flushdb()
    await client.aclose()
    admin = await asyncpg.connect(args.pg_server.replace("postgres://", "postgresql://", 1) + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{args.db_name}"')
    finally:
        await admin.close()
    return f"{args.pg_server}/{args.db_name}"


def _create_schema(url: str) -> None:
    subprocess.run([sys.executable, "-c", (
        "import asyncio\nfrom tortoise import Tortoise\nfrom app.db import tortoise_config\n"
        "async def main():\n"
        f"    await Tortoise.init(config=tortoise_config({url!r}))\n"
        "    await Tortoise.generate_schemas()\n"
        "    await Tortoise.close_connections()\n"
        "asyncio.run(main())\n")], cwd=ROOT, check=True)


def _env(args, db_url: str, port: int) -> dict:
    return dict(os.environ, BILLING_DATABASE_URL=db_url, BILLING_REDIS_URL=args.redis_url, BILLING_SECRET_KEY=SECRET,
                BILLING_PORT=str(port), BILLING_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))


async def _post(session: aiohttp.ClientSession, url: str, query: str, variables: dict) -> dict:
    async with session.post(url, json={"query": query, "variables": variables}) as response:
        body = await response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


async def _seed(url: str) -> tuple[str, list[str], str]:
    headers = {"Authorization": f"Bearer {SECRET}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        meter = await _post(session, url, "mutation($n: String!) { createMeter(input: {displayName: \"Bench\", "
                            "eventName: $n, formula: SUM}) { id } }", {"n": EVENT_NAME})
        customers = []
        for i in range(CUSTOMERS + 1):
            data = await _post(session, url, "mutation($e: String!) { createCustomer(input: {email: $e}) { id } }",
                               {"e": f"bench{i}@example.com"})
            customers.append(data["createCustomer"]["id"])
    return meter["createMeter"]["id"], customers[:-1], customers[-1]


def _body_template(customers: list[str], batch: int, worker: int) -> bytes:
    events = [{"eventName": EVENT_NAME, "identifier": f"{TOKEN.decode()}-{worker}-{i}",
               "payload": {"stripe_customer_id": customers[(worker * 7 + i) % len(customers)], "value": "1"}}
              for i in range(batch)]
    return json.dumps({"query": EVENTS, "operationName": "Ingest", "variables": {"events": events}}).encode()


async def _load(url: str, customers: list[str], batch: int, concurrency: int, index: int, start_at: float,
                stop_at: float, warm_at: float, out, every: float) -> None:
    """`every`: seconds between one connection's requests (0: back to back)."""
    headers = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
    counts = {"accepted": 0, "requests": 0, "errors": 0, "warm_accepted": 0, "cpu": 0.0}
    sequence = 0
    cpu_at_warm: list[float] = []

    async def connection(slot: int) -> None:
        nonlocal sequence
        template = _body_template(customers, batch, index * 100 + slot)
        next_at = time.time() + every * slot / concurrency
        async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=60)) as session:
            while time.time() < stop_at:
                if every:
                    await asyncio.sleep(max(0.0, next_at - time.time()))
                    next_at += every
                sequence += 1
                token = f"{index:02d}{slot:02d}{sequence:08d}".encode()
                async with session.post(url, data=template.replace(TOKEN, token)) as response:
                    body = await response.json()
                if "errors" in body or body["data"]["createMeterEvents"]["errors"]:
                    counts["errors"] += 1
                    continue
                accepted = body["data"]["createMeterEvents"]["accepted"]
                counts["requests"] += 1
                counts["accepted"] += accepted
                if time.time() >= warm_at:
                    counts["warm_accepted"] += accepted
                    if not cpu_at_warm:
                        cpu_at_warm.append(_own_cpu())

    await asyncio.sleep(max(0.0, start_at - time.time()))
    await asyncio.gather(*(connection(slot) for slot in range(concurrency)))
    counts["cpu"] = _own_cpu() - (cpu_at_warm[0] if cpu_at_warm else _own_cpu())
    out.put(counts)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _load_process(*args) -> None:
    asyncio.run(_load(*args))


async def _probe(url: str, meter: str, customer: str, start: datetime, stop_at: float, warm_at: float
                 ) -> list[float]:
    """Lags (seconds) from acceptance of one probe event until meterEventSummaries counts it."""
    headers = {"Authorization": f"Bearer {SECRET}"}
    end = start + timedelta(hours=2)
    variables = {"m": meter, "c": customer, "s": start.isoformat(), "e": end.isoformat()}
    outstanding: list[tuple[int, float]] = []
    lags: list[float] = []
    sent = 0
    async with aiohttp.ClientSession(headers=headers) as session:
        async def send() -> None:
            nonlocal sent
            while time.time() < stop_at:
                event = {"eventName": EVENT_NAME, "payload": {"stripe_customer_id": customer, "value": "1"}}
                data = await _post(session, url, EVENTS, {"events": [event]})
                assert data["createMeterEvents"]["accepted"] == 1
                sent += 1
                outstanding.append((sent, time.time()))
                await asyncio.sleep(PROBE_EVERY)

        async def poll() -> None:
            while time.time() < stop_at + 30 and (time.time() < stop_at or outstanding):
                data = await _post(session, url, SUMMARY, variables)
                summaries = data["meterEventSummaries"]
                counted = int(float(summaries[0]["aggregatedValue"])) if summaries else 0
                now = time.time()
                while outstanding and outstanding[0][0] <= counted:
                    _, accepted_at = outstanding.pop(0)
                    if accepted_at >= warm_at:
                        lags.append(now - accepted_at)
                await asyncio.sleep(0.02)

        await asyncio.gather(send(), poll())
    return lags


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


async def _wait_ready(url: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    async with aiohttp.ClientSession() as session:
        while time.time() < deadline:
            try:
                async with session.get(url.replace("/graphql", "/readyz")) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the API did not become ready")


def run(args) -> dict:
    db_url = asyncio.run(_reset(args))
    _create_schema(db_url)
    port = args.port or _free_port()
    env = _env(args, db_url, port)
    api = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=ROOT, env=env)
    worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env)
    loaders: list[multiprocessing.Process] = []
    try:
        return asyncio.run(measure(args, f"http://127.0.0.1:{port}/graphql", db_url, api, worker, loaders))
    finally:
        for process in loaders:
            if process.is_alive():
                process.terminate()
        for process in (api, worker):
            process.send_signal(signal.SIGTERM)
        for process in (api, worker):
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


async def measure(args, url: str, db_url: str, api, worker, loaders: list) -> dict:
    await _wait_ready(url)
    meter, customers, probe_customer = await _seed(url)
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    begin = time.time() + 1.0
    warm_at = begin + args.warmup
    stop_at = warm_at + args.seconds
    out = multiprocessing.Queue()
    every = args.clients * args.concurrency * args.batch / args.rate if args.rate else 0.0
    for index in range(args.clients):
        process = multiprocessing.Process(target=_load_process, args=(
            url, customers, args.batch, args.concurrency, index,
            begin + every * index / (args.clients * args.concurrency), stop_at, warm_at, out, every))
        process.start()
        loaders.append(process)
    rss: list[tuple[float, float]] = []
    cpu_marks: dict[str, float] = {}

    async def sample() -> None:
        while time.time() < stop_at:
            rss.append((time.time() - begin, _rss_mb(api.pid)))
            if "api" not in cpu_marks and time.time() >= warm_at:
                cpu_marks.update(api=_cpu_seconds(api.pid), worker=_cpu_seconds(worker.pid),
                                 busy=_machine_busy(), at=time.time())
            await asyncio.sleep(1.0)
        cpu_marks.update(api_end=_cpu_seconds(api.pid), worker_end=_cpu_seconds(worker.pid),
                         busy_end=_machine_busy(), end=time.time())

    lags, _ = await asyncio.gather(_probe(url, meter, probe_customer, start, stop_at, warm_at), sample())
    counts = [out.get(timeout=60) for _ in loaders]
    for process in loaders:
        process.join(30)
    stored_at = time.time()
    window = cpu_marks["end"] - cpu_marks["at"]
    accepted = sum(c["warm_accepted"] for c in counts)
    result = {
        "clients": args.clients, "concurrency": args.concurrency, "batch": args.batch,
        "offered_per_s": args.rate or None,
        "seconds": round(window, 1), "accepted_per_s": round(accepted / args.seconds),
        "accepted_total": sum(c["accepted"] for c in counts) + len(lags),
        "requests": sum(c["requests"] for c in counts), "request_errors": sum(c["errors"] for c in counts),
        "lag_p50_s": round(_percentile(lags, 50), 3), "lag_p99_s": round(_percentile(lags, 99), 3),
        "lag_max_s": round(max(lags), 3) if lags else None, "probes": len(lags),
        "api_rss_mb_start": round(rss[0][1], 1), "api_rss_mb_after_warmup": round(
            next((r for t, r in rss if t >= args.warmup), rss[-1][1]), 1),
        "api_rss_mb_end": round(rss[-1][1], 1), "api_rss_mb_peak": round(max(r for _, r in rss), 1),
        "api_rss_mb_by_minute": [round(r, 1) for t, r in rss if int(t) % 60 == 0],
        "api_cpu_pct": round(100 * (cpu_marks["api_end"] - cpu_marks["api"]) / window, 1),
        "worker_cpu_pct": round(100 * (cpu_marks["worker_end"] - cpu_marks["worker"]) / window, 1),
        "machine_busy_pct": round(100 * (cpu_marks["busy_end"] - cpu_marks["busy"]) / window / os.cpu_count(), 1),
    }
    result["load_cpu_pct"] = round(100 * sum(c["cpu"] for c in counts) / args.seconds, 1)
    result["stored_check"] = await _stored(db_url, accepted, stored_at)
    return result


def _machine_busy() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICKS


async def _stored(db_url: str, accepted_warm: int, since: float) -> dict:
    """Events stored once the load stops, and how long the worker took to catch up."""
    conn = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1))
    try:
        previous, stable = -1, 0
        while stable < 3:
            count = await conn.fetchval("SELECT count(*) FROM meter_events")
            stable = stable + 1 if count == previous else 0
            previous = count
            await asyncio.sleep(0.5)
        minutes = await conn.fetchval("SELECT coalesce(sum(count), 0) FROM meter_usage_minutes")
        return {"events_stored": count, "minute_counts": int(minutes), "accepted_after_warmup": accepted_warm,
                "settled_s": round(time.time() - since, 1)}
    finally:
        await conn.close()


if __name__ == "__main__":
    parsed = parse_args()
    outcome = run(parsed)
    print(json.dumps(outcome))
    print()
    print("| events/s | lag p50 | lag p99 | API RSS after warm-up → end (peak) | API CPU | worker CPU | load CPU "
          "| machine busy |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {outcome['accepted_per_s']:,} | {outcome['lag_p50_s']} s | {outcome['lag_p99_s']} s | "
          f"{outcome['api_rss_mb_after_warmup']} → {outcome['api_rss_mb_end']} MB ({outcome['api_rss_mb_peak']}) | "
          f"{outcome['api_cpu_pct']} % | {outcome['worker_cpu_pct']} % | {outcome['load_cpu_pct']} % | "
          f"{outcome['machine_busy_pct']} % |")
