"""Read benchmark: the catalog query against one `billing serve` process on PostgreSQL.

Creates a fresh database, migrates it, loads 100 products (3 prices and 2 features each) through the
GraphQL API, starts one API process and drives it with N concurrent aiohttp clients sending the same
query (a page of 10 or 100 products with every contract field of Product, Price and Feature).
It does so twice: with the read cache off (BILLING_READ_CACHE_SECONDS=0: every request is executed) and
on (repeated reads are answered from the cache; the share of cache hits is measured from /metrics).
Prints a markdown table: requests/s, p50 and p99 latency, and the CPU of the load generator, the API
process, its PostgreSQL backends and everything else on the machine. `--profile` runs the server under
pyinstrument for the 10-page at 10 clients and prints the hotspots. See bench/README.md.

    .venv/bin/python bench/graphql_reads.py [--seconds 10] [--runs 3] [--cache off on] [--profile]
"""
import argparse
import asyncio
import contextlib
import functools
import importlib.util
import json
import logging
import os
import re
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")

PRICE_FIELDS = """
fragment PriceFields on Price {
  id product { id } active currency type billingScheme unitAmount unitAmountDecimal tiersMode
  tiers { upTo unitAmount unitAmountDecimal flatAmount flatAmountDecimal }
  transformQuantity { divideBy round }
  recurring { interval intervalCount usageType aggregateUsage }
  lookupKey nickname metadata created
}
"""
# Every contract field of Product, Price and Feature except Recurring.meter (Meter is not built yet).
CATALOG_QUERY = PRICE_FIELDS + """
query Catalog($first: Int!) {
  products(first: $first) {
    nodes {
      id deleted name description active metadata created updated
      defaultPrice { ...PriceFields }
      prices { nodes { ...PriceFields } pageInfo { hasNextPage endCursor } }
      features {
        nodes { id entitlementFeature { id name lookupKey active metadata created } product { id } }
        pageInfo { hasNextPage endCursor }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SEED_PRODUCT = """
mutation SeedProduct($product: CreateProductInput!, $f1: CreateFeatureInput!, $f2: CreateFeatureInput!) {
  product: createProduct(input: $product) { id }
  f1: createFeature(input: $f1) { id }
  f2: createFeature(input: $f2) { id }
}
"""
SEED_PRICES = """
mutation SeedPrices($p1: CreatePriceInput!, $p2: CreatePriceInput!, $p3: CreatePriceInput!,
                    $product: ID!, $f1: ID!, $f2: ID!) {
  p1: createPrice(input: $p1) { id }
  p2: createPrice(input: $p2) { id }
  p3: createPrice(input: $p3) { id }
  pf1: createProductFeature(product: $product, entitlementFeature: $f1) { id }
  pf2: createProductFeature(product: $product, entitlementFeature: $f2) { id }
}
"""
SEED_DEFAULT = """
mutation SeedDefault($product: ID!, $price: ID!) {
  updateProduct(id: $product, input: {defaultPrice: $price}) { id }
}
"""

PRODUCTS = 100
SHAPES = (10, 100)
CONCURRENCY = (1, 10, 50)
TARGET = {"page": 10, "clients": 10, "rps": 300, "p99_ms": 50}
CLIENT_TIMEOUT = 60  # seconds; a page of 100 at 50 clients queues for 20 s on a busy machine


def parse_args(argv=None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pg-server", default=env("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432"),
                   help="PostgreSQL server URL without a database name")
    p.add_argument("--db-name", default=env("BENCH_DB_NAME", "billing_bench"), help="dropped and recreated")
    p.add_argument("--redis-url", default=env("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per cell")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each cell")
    p.add_argument("--runs", type=int, default=1, help="repeat the matrix; the table shows medians")
    p.add_argument("--shapes", type=int, nargs="+", default=list(SHAPES), help="page sizes")
    p.add_argument("--clients", type=int, nargs="+", default=list(CONCURRENCY), help="concurrencies")
    p.add_argument("--cache", nargs="+", choices=("off", "on"), default=["off", "on"],
                   help="read cache modes to measure, each with its own API process (--profile: the first)")
    p.add_argument("--no-sql-count", action="store_true", help="skip counting SQL queries per request")
    p.add_argument("--profile", action="store_true",
                   help="run the server under pyinstrument for the 10-page at 10 clients; print hotspots")
    p.add_argument("--profile-dir", default=None, help="where to keep the profile (default: a temp dir)")
    p.add_argument("--serve-profiled", nargs=2, metavar=("OUT_DIR", "PORT"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ---------------------------------------------------------------- setup

def admin_dsn(server: str) -> str:
    """The server's maintenance database, for DROP/CREATE DATABASE and statistics."""
    return server.replace("postgres://", "postgresql://", 1) + "/postgres"


async def recreate_database(server: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn(server), timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(args, db_url: str, secret: str, cache: str = "on") -> dict:
    env = dict(os.environ, BILLING_DATABASE_URL=db_url, BILLING_REDIS_URL=args.redis_url,
               BILLING_SECRET_KEY=secret, BILLING_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    if cache == "off":
        env["BILLING_READ_CACHE_SECONDS"] = "0"
    return env


async def wait_ready(session: aiohttp.ClientSession, base: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"API process exited with {proc.returncode}")
        try:
            async with session.get(base + "/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("API not ready in time")


async def graphql(session, url, headers, query: str, variables: dict) -> dict:
    async with session.post(url, json={"query": query, "variables": variables}, headers=headers) as resp:
        body = await resp.json()
    if resp.status != 200 or body.get("errors"):
        raise RuntimeError(f"seeding failed ({resp.status}): {body}")
    return body["data"]


async def seed_product(session, url, headers, i: int) -> None:
    """One product, 2 features attached, 3 prices (per unit one-time, decimal monthly, tiered metered)."""
    made = await graphql(session, url, headers, SEED_PRODUCT, {
        "product": {"name": f"Product {i:03}", "description": f"Benchmark product number {i}",
                    "metadata": {"tier": ("bronze", "silver", "gold")[i % 3], "index": str(i)}},
        "f1": {"name": f"Feature {i}a", "lookupKey": f"bench_{i}_a", "metadata": {"group": "core"}},
        "f2": {"name": f"Feature {i}b", "lookupKey": f"bench_{i}_b"},
    })
    product = made["product"]["id"]
    prices = await graphql(session, url, headers, SEED_PRICES, {
        "product": product, "f1": made["f1"]["id"], "f2": made["f2"]["id"],
        "p1": {"product": product, "currency": "usd", "unitAmount": 1000 + i, "lookupKey": f"bench_{i}_setup",
               "nickname": "Setup", "transformQuantity": {"divideBy": 10, "round": "UP"},
               "metadata": {"kind": "setup"}},
        "p2": {"product": product, "currency": "usd", "unitAmountDecimal": "12.345",
               "recurring": {"interval": "MONTH", "intervalCount": 1}, "lookupKey": f"bench_{i}_monthly",
               "nickname": "Monthly"},
        "p3": {"product": product, "currency": "eur", "billingScheme": "TIERED", "tiersMode": "GRADUATED",
               "recurring": {"interval": "MONTH", "usageType": "METERED", "aggregateUsage": "SUM"},
               "tiers": [{"upTo": 1000, "unitAmount": 5, "flatAmount": 100},
                         {"upTo": None, "unitAmountDecimal": "2.5"}],
               "nickname": "Usage"},
    })
    await graphql(session, url, headers, SEED_DEFAULT, {"product": product, "price": prices["p2"]["id"]})


async def seed(session, url, headers, products: int = PRODUCTS, parallel: int = 8) -> float:
    started = time.perf_counter()
    gate = asyncio.Semaphore(parallel)

    async def one(i):
        async with gate:
            await seed_product(session, url, headers, i)

    await asyncio.gather(*(one(i) for i in range(products)))
    return time.perf_counter() - started


def check_response(body: dict, page: int) -> None:
    nodes = body["data"]["products"]["nodes"]
    assert not body.get("errors"), body.get("errors")
    assert len(nodes) == page, f"expected {page} products, got {len(nodes)}"
    for product in nodes:
        assert len(product["prices"]["nodes"]) == 3 and len(product["features"]["nodes"]) == 2, product["id"]
        assert product["defaultPrice"]["product"]["id"] == product["id"]
        assert all(f["entitlementFeature"]["lookupKey"] for f in product["features"]["nodes"])


# ---------------------------------------------------------------- measurement

def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (all but idle and iowait), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICKS


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Cell:
    cache: str
    page: int
    clients: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bench_cpu: float  # in cores (1.0 = one core busy)
    api_cpu: float
    pg_cpu: float  # the PostgreSQL backends serving the bench database
    machine_cpu: float
    hits: float | None  # share of the measured requests answered from the read cache

    @property
    def other_cpu(self) -> float:
        """CPU of everything else on the machine (other sessions' work makes the numbers noisy)."""
        return max(0.0, self.machine_cpu - self.bench_cpu - self.api_cpu - self.pg_cpu)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    return sorted_values[max(0, min(len(sorted_values) - 1, round(q * len(sorted_values) + 0.5) - 1))]


async def drive(session, url: str, body: bytes, headers: dict, clients: int, seconds: float) -> tuple[list, int]:
    """`clients` loops sending the same request until the deadline: latencies (s) and error count."""
    stop_at = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = 0

    async def client():
        nonlocal errors
        while (started := time.perf_counter()) < stop_at:
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    data = await resp.read()
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)
            if resp.status != 200 or b'"errors"' in data:
                errors += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors


async def backend_pids(admin: asyncpg.Connection, db_name: str) -> list[int]:
    rows = await admin.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", db_name)
    return [row["pid"] for row in rows]


def pids_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):  # a pooled connection closed meanwhile
            total += proc_cpu(pid)
    return total


_LOOKUPS = re.compile(r'^billing_read_cache_lookups_total\{result="(hit|miss)"\} (\S+)$', re.MULTILINE)


async def cache_lookups(session, url: str) -> dict[str, float]:
    """The read cache's hit and miss counters, from the API's /metrics."""
    async with session.get(url.removesuffix("/graphql") + "/metrics") as resp:
        text = await resp.text()
    return {result: float(value) for result, value in _LOOKUPS.findall(text)}


async def measure(session, url, headers, api_pid: int, admin, page: int, clients: int, args, cache: str) -> Cell:
    body = json.dumps({"query": CATALOG_QUERY, "variables": {"first": page}, "operationName": "Catalog"}).encode()
    await drive(session, url, body, headers, clients, args.warmup)
    pg = await backend_pids(admin, args.db_name)
    lookups = await cache_lookups(session, url)
    wall, mine, api, pg_cpu, busy = (time.perf_counter(), self_cpu(), proc_cpu(api_pid), pids_cpu(pg),
                                     machine_busy())
    latencies, errors = await drive(session, url, body, headers, clients, args.seconds)
    wall = time.perf_counter() - wall
    api = proc_cpu(api_pid) - api  # before the /metrics request below
    after = await cache_lookups(session, url)
    hits = after.get("hit", 0) - lookups.get("hit", 0)
    latencies.sort()
    return Cell(cache=cache, page=page, clients=clients, requests=len(latencies), errors=errors, seconds=wall,
                p50_ms=percentile(latencies, 0.50) * 1000, p99_ms=percentile(latencies, 0.99) * 1000,
                bench_cpu=(self_cpu() - mine) / wall, api_cpu=api / wall,
                pg_cpu=(pids_cpu(pg) - pg_cpu) / wall, machine_cpu=(machine_busy() - busy) / wall,
                hits=hits / len(latencies) if cache == "on" and latencies else None)


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1


async def queries_per_request(db_url: str, secret: str, pages: list[int]) -> dict[int, int]:
    """SQL queries of one executed request (no read cache; the API key is looked up once per key every
    10 s at most), run in this process on the bench database and counted from Tortoise's per-query debug
    log. Each is one round trip to PostgreSQL."""
    sys.path.insert(0, str(ROOT))
    from app import db, keys
    from app.graphql.auth import authenticate
    from app.graphql.context import Context
    from app.graphql.schema import schema

    logger, count = logging.getLogger("tortoise.db_client"), _Count()
    level, propagate = logger.level, logger.propagate
    await db.init(db_url)
    await keys.authenticate(secret)  # opens the pool first: Tortoise logs that on the same logger
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(count)
    try:
        counts = {}
        for page in pages:
            count.records = 0
            principal = await authenticate(secret)  # remembered: no query
            result = await schema.execute(CATALOG_QUERY, variable_values={"first": page},
                                          context_value=Context(principal=principal, dispatch=None))
            assert not result.errors, result.errors
            counts[page] = count.records
        return counts
    finally:
        logger.removeHandler(count)
        logger.setLevel(level)
        logger.propagate = propagate
        await db.close()


# ---------------------------------------------------------------- report

def _median(cells: list[Cell], attr: str) -> float:
    return statistics.median(getattr(c, attr) for c in cells)


def table(runs: list[list[Cell]]) -> str:
    """Medians over runs per (cache, page, clients); rps range shows run-to-run spread. CPU in % of one core;
    cache hits in % of the measured requests."""
    by_cell: dict[tuple, list[Cell]] = defaultdict(list)
    for run in runs:
        for cell in run:
            by_cell[(cell.cache, cell.page, cell.clients)].append(cell)
    lines = ["| cache | hits | page | clients | req/s | req/s range | products/s | p50 ms | p99 ms | errors "
             "| bench CPU | API CPU | PG CPU | other CPU | API CPU ms/req |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (cache, page, clients), cells in sorted(by_cell.items()):
        med = functools.partial(_median, cells)
        rps = [c.rps for c in cells]
        hits = "–" if cache == "off" else f"{med('hits'):.0%}"
        lines.append(
            f"| {cache} | {hits} | {page} | {clients} | {med('rps'):.0f} | {min(rps):.0f}–{max(rps):.0f} "
            f"| {med('rps') * page:.0f} "
            f"| {med('p50_ms'):.1f} | {med('p99_ms'):.1f} | {sum(c.errors for c in cells)} "
            f"| {med('bench_cpu'):.0%} | {med('api_cpu'):.0%} | {med('pg_cpu'):.0%} | {med('other_cpu'):.0%} "
            f"| {statistics.median(c.api_cpu / c.rps * 1000 for c in cells):.1f} |")
    return "\n".join(lines)


def verdict(runs: list[list[Cell]], cache: str) -> str:
    cells = [c for run in runs for c in run
             if (c.cache, c.page, c.clients) == (cache, TARGET["page"], TARGET["clients"])]
    if not cells:
        return f"cache {cache}: target cell (page 10, 10 clients) not measured"
    rps = statistics.median(c.rps for c in cells)
    p99 = statistics.median(c.p99_ms for c in cells)
    met = rps >= TARGET["rps"] and p99 < TARGET["p99_ms"]
    return (f"Cache {cache}: target (page of 10, 10 clients: >= {TARGET['rps']} req/s, p99 < {TARGET['p99_ms']} ms): "
            f"{'MET' if met else 'NOT MET'} — {rps:.0f} req/s ({rps / TARGET['rps']:.2f}x the target), "
            f"p99 {p99:.1f} ms ({p99 / TARGET['p99_ms']:.2f}x the bound)")


# ---------------------------------------------------------------- profiling

def serve_profiled(out_dir: str, port: str) -> None:
    """The API under pyinstrument: SIGUSR1 starts sampling, SIGUSR2 stops it and writes the reports."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="disabled")

    def start(*_):
        profiler.start()

    def stop(*_):
        session = profiler.stop()
        out = Path(out_dir)
        (out / "profile.html").write_text(profiler.output_html())
        (out / "profile.txt").write_text(profiler.output_text(show_all=False))
        session.save(str(out / "session.pyisession"))  # `pyinstrument --load` renders it again
        (out / "hotspots.txt").write_text(hotspots(session.root_frame()))

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    from app.cli import main

    main(["serve", "--port", port])


IDLE = ("select", "selectors.py")


def _package(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if f"{ROOT}/" in path:
        return path.removeprefix(f"{ROOT}/").split("/", 1)[0]
    return "stdlib/builtins"


def hotspots(root, top: int = 25) -> str:
    """Self time by package, flat self time by function, and inclusive time by function (busy time only)."""
    self_by_fn: dict[str, float] = defaultdict(float)
    self_by_pkg: dict[str, float] = defaultdict(float)
    inclusive: dict[str, float] = defaultdict(float)
    callers: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    idle = 0.0

    def walk(frame, open_fns: frozenset, parent: str):
        """Synthetic children ([self]) hold a frame's own time: it is counted on the frame itself."""
        nonlocal idle
        key = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
        path = frame.file_path or ""
        if frame.function == IDLE[0] and path.endswith(IDLE[1]):
            idle += frame.time
            return
        if key not in open_fns:
            inclusive[key] += frame.time
        real = [child for child in frame.children if not child.is_synthetic]
        own = frame.time - sum(child.time for child in real)
        if own > 0:
            self_by_fn[key] += own
            self_by_pkg[_package(path)] += own
            callers[key][parent] += own
        for child in real:
            walk(child, open_fns | {key}, key)

    walk(root, frozenset(), "")
    busy = root.time - idle
    pct = lambda t: f"{t / busy:6.1%}"  # noqa: E731
    out = [f"sampled {root.time:.1f} s: busy {busy:.1f} s, idle in epoll {idle:.1f} s; shares are of busy time",
           "", "self time by package:"]
    out += [f"  {pct(t)}  {name}" for name, t in sorted(self_by_pkg.items(), key=lambda kv: -kv[1])[:12]]
    out += ["", "self time by function (<- its main caller):"]
    out += [f"  {pct(t)}  {name}  <- {max(callers[name].items(), key=lambda kv: kv[1])[0]}"
            for name, t in sorted(self_by_fn.items(), key=lambda kv: -kv[1])[:top]]
    out += ["", "inclusive time by function (>= 3%):"]
    out += [f"  {pct(t)}  {name}" for name, t in sorted(inclusive.items(), key=lambda kv: -kv[1])
            if t / busy >= 0.03 and t < root.time * 0.999][:60]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main

async def matrix(session, url, headers, api_pid: int, args, cache: str) -> list[list[Cell]]:
    """Every (page, clients) cell, `runs` times, printing each: the cells of each run."""
    admin = await asyncpg.connect(admin_dsn(args.pg_server), timeout=10)
    try:
        runs = []
        for i in range(args.runs):
            cells = []
            for page in args.shapes:
                for clients in args.clients:
                    cell = await measure(session, url, headers, api_pid, admin, page, clients, args, cache)
                    hits = "" if cell.hits is None else f" hits {cell.hits:.0%}"
                    print(f"cache {cache} run {i + 1} page {page:3} clients {clients:2}: {cell.rps:6.0f} req/s "
                          f"p50 {cell.p50_ms:6.1f} ms p99 {cell.p99_ms:6.1f} ms errors {cell.errors} "
                          f"bench {cell.bench_cpu:.0%} api {cell.api_cpu:.0%} pg {cell.pg_cpu:.0%} "
                          f"other {cell.other_cpu:.0%}{hits}", flush=True)
                    cells.append(cell)
            runs.append(cells)
    finally:
        await admin.close()
    return runs


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def bench(args, port: int, secret: str, proc: subprocess.Popen, cache: str, first: bool) -> list[list[Cell]]:
    """On the first API process, seed through the API and count SQL queries; check the query's answer, then
    measure (or profile)."""
    base, url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/graphql"
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=max(args.clients), limit_per_host=0)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await wait_ready(session, base, proc)
        if first:
            print(f"seeded {PRODUCTS} products through the API in {await seed(session, url, headers):.1f} s",
                  flush=True)
        for page in args.shapes:
            async with session.post(url, json={"query": CATALOG_QUERY, "variables": {"first": page}},
                                    headers=headers) as resp:
                check_response(await resp.json(), page)
        if first and not args.no_sql_count:
            counts = await queries_per_request(f"{args.pg_server}/{args.db_name}", secret, args.shapes)
            print("SQL queries per executed request: " + ", ".join(f"page {p}: {n}" for p, n in counts.items()),
                  flush=True)
        if args.profile:
            await profile(session, url, headers, proc, args)
            return []
        return await matrix(session, url, headers, proc.pid, args, cache)


async def profile(session, url, headers, proc, args) -> None:
    """10-page at 10 clients with the server sampled between SIGUSR1 and SIGUSR2."""
    page, clients = TARGET["page"], TARGET["clients"]
    body = json.dumps({"query": CATALOG_QUERY, "variables": {"first": page}, "operationName": "Catalog"}).encode()
    await drive(session, url, body, headers, clients, args.warmup)
    proc.send_signal(signal.SIGUSR1)
    await asyncio.sleep(0.2)
    latencies, errors = await drive(session, url, body, headers, clients, args.seconds)
    proc.send_signal(signal.SIGUSR2)
    latencies.sort()
    print(f"under the profiler, page {page} at {clients} clients: {len(latencies) / args.seconds:.0f} req/s, "
          f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
          f"errors {errors}")


def wait_for_report(profile_dir: Path, seconds: float = 120) -> None:
    report = profile_dir / "hotspots.txt"
    deadline = time.monotonic() + seconds
    while not report.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    print(report.read_text())
    print(f"full profile: {profile_dir / 'profile.html'} and {profile_dir / 'profile.txt'}")


def main() -> None:
    args = parse_args()
    if args.serve_profiled:
        serve_profiled(*args.serve_profiled)
        return
    if args.profile and importlib.util.find_spec("pyinstrument") is None:
        sys.exit("--profile needs pyinstrument: .venv/bin/pip install pyinstrument")
    secret = "sk_test_bench_" + secrets.token_urlsafe(24)
    db_url = f"{args.pg_server}/{args.db_name}"
    asyncio.run(recreate_database(args.pg_server, args.db_name))
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=server_env(args, db_url, secret), cwd=ROOT,
                   check=True, timeout=120, stdout=subprocess.DEVNULL)
    modes = args.cache[:1] if args.profile else args.cache
    runs: list[list[Cell]] = []
    for cache in modes:
        runs += serve_and_bench(args, server_env(args, db_url, secret, cache), secret, cache, first=not runs)
    if runs:
        print(f"\n{table(runs)}\n")
        print("\n".join(verdict(runs, cache) for cache in modes))


def serve_and_bench(args, env: dict, secret: str, cache: str, first: bool) -> list[list[Cell]]:
    """One API process with the read cache `off` or `on`: its measured runs."""
    port = free_port()
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    profile_dir = None
    if args.profile:
        profile_dir = Path(args.profile_dir or tempfile.mkdtemp(prefix="billing_bench_profile_"))
        profile_dir.mkdir(parents=True, exist_ok=True)
        (profile_dir / "hotspots.txt").unlink(missing_ok=True)
        command = [sys.executable, __file__, "--serve-profiled", str(profile_dir), str(port)]
    cells = 1 if args.profile else len(args.shapes) * len(args.clients) * args.runs
    # a cell's warm-up and measurement may each end with one request still queued (CLIENT_TIMEOUT at most)
    budget = 300 + cells * (args.seconds + args.warmup + 2 * CLIENT_TIMEOUT)
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            runs = asyncio.run(asyncio.wait_for(bench(args, port, secret, proc, cache, first), timeout=budget))
            if profile_dir:
                wait_for_report(profile_dir)
            return runs
        finally:
            stop(proc)
            if proc.returncode not in (0, -signal.SIGTERM):
                log.seek(0)
                print(f"API exited with {proc.returncode}:\n{log.read()[-3000:].decode(errors='replace')}")


if __name__ == "__main__":
    main()
