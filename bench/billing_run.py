"""Renewal benchmark: 10,000 monthly subscriptions due at the same instant, renewed by `billing worker`.

Seeds a template database once (migrated with `python -m app.cli migrate`; catalog through the domain,
then customers, payment methods, subscriptions and items with the ORM's `bulk_create`, 1,000 rows a
statement), all due 2 hours ago on real time, so the renewal (draft invoice at the period end) and its
finalization (1 hour later) with the charge are all due. Each run copies the template (CREATE DATABASE
... TEMPLATE), starts K `billing worker` processes (their cron runs the cycle at start-up) and polls
the database until every subscription's cycle invoice is paid, or --timeout. Prints seconds,
invoices/s and CPU per run and a table of medians. `--profile N` instead runs the cycle in this process
over N subscriptions and prints SQL statements and milliseconds per step, and pyinstrument's hotspots.

    .venv/bin/python bench/billing_run.py [--count 10000] [--workers 1 2] [--runs 1] [--timeout 900]
    .venv/bin/python bench/billing_run.py --profile 500 [--setup-sql bench/some_indexes.sql]
"""
import argparse
import asyncio
import contextlib
import logging
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import db  # noqa: E402
from app.billing import cycle, prices, products  # noqa: E402
from app.billing.events import atomic  # noqa: E402
from app.billing.periods import add_months  # noqa: E402
from app.clock import utcnow  # noqa: E402
from app.ids import new_id  # noqa: E402
from app.models.customers import Customer, PaymentMethod  # noqa: E402
from app.models.subscriptions import Subscription, SubscriptionItem  # noqa: E402
from app.redis import EmbeddedRedis, connect  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
BATCH = 1000
TARGET_SECONDS = 30  # all 10,000 with 2 workers
PROGRESS = """SELECT count(*) AS created, count(*) FILTER (WHERE status = 'paid') AS paid
FROM invoices WHERE billing_reason = 'subscription_cycle'"""


def parse_args(argv=None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pg-server", default=env("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432"),
                   help="PostgreSQL server URL without a database name")
    p.add_argument("--db-name", default=env("BENCH_DB_NAME", "billing_run_bench"),
                   help="prefix of the databases (<name>_seed, <name>_run): dropped and recreated")
    p.add_argument("--redis-url", default=env("BENCH_REDIS_URL"),
                   help="a Redis database the bench may FLUSHDB (default: an embedded Redis of its own)")
    p.add_argument("--count", type=int, default=10_000, help="subscriptions due at once")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker processes per run")
    p.add_argument("--runs", type=int, default=1, help="repeat each worker count; the table shows medians")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds a run may take before it is stopped")
    p.add_argument("--setup-sql", type=Path, help="SQL run on the seeded database before the runs (to try an index)")
    p.add_argument("--profile", type=int, metavar="N", help="profile the cycle in-process over N subscriptions")
    return p.parse_args(argv)


# ---------------------------------------------------------------- setup

def admin_dsn(server: str) -> str:
    return server.replace("postgres://", "postgresql://", 1) + "/postgres"


async def recreate_database(server: str, name: str, template: str | None = None) -> None:
    admin = await asyncpg.connect(admin_dsn(server), timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await admin.close()


async def drop_database(server: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn(server), timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def execute(db_url: str, sql: str) -> None:
    conn = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def migrate(db_url: str) -> None:
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, check=True, timeout=120,
                   env=dict(os.environ, BILLING_DATABASE_URL=db_url, BILLING_LOG_LEVEL="WARNING"))


async def seed(db_url: str, count: int) -> float:
    """`count` customers with a working card and one monthly subscription each, all due 2 hours ago."""
    started = time.perf_counter()
    due = utcnow() - timedelta(hours=2)
    start = add_months(due, -1)
    await db.init(db_url)
    try:
        async with atomic():
            product = await products.create_product(name="Bench")
            price = await prices.create_price(product=product.id, currency="usd", unit_amount=2000,
                                              recurring={"interval": "month"})
        for offset in range(0, count, BATCH):
            customers, cards, subs, items = [], [], [], []
            for i in range(offset, min(offset + BATCH, count)):
                customer, card, sub = new_id("cus", 14), new_id("pm"), new_id("sub")
                customers.append(Customer(id=customer, email=f"c{i}@example.com", invoice_prefix=f"B{i:07d}",
                                          default_payment_method_id=card, created=start))
                cards.append(PaymentMethod(id=card, card_brand="visa", card_last4="4242", card_exp_month=12,
                                           card_exp_year=due.year + 3, behavior="ok", customer_id=customer,
                                           created=start))
                subs.append(Subscription(
                    id=sub, customer_id=customer, status="active", currency="usd", interval="month",
                    interval_count=1, start_date=start, billing_cycle_anchor=start, current_period_start=start,
                    current_period_end=due, created=start))
                items.append(SubscriptionItem(id=new_id("si"), subscription_id=sub, price_id=price.id, quantity=1,
                                              created=start))
            async with atomic():
                for model, rows in ((Customer, customers), (PaymentMethod, cards), (Subscription, subs),
                                    (SubscriptionItem, items)):
                    await model.bulk_create(rows)
    finally:
        await db.close()
    return time.perf_counter() - started


# ---------------------------------------------------------------- measurement

def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process, from /proc; 0 once it is gone."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    return 0.0


def machine_busy() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICKS


def revision() -> str:
    """The commit, and whether the code the workers run (app/, workers/) differs from it."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "app", "workers"], capture_output=True, text=True).stdout
    return head + (" + uncommitted changes in app/ or workers/" if dirty.strip() else "")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    return f"{os.cpu_count()} CPUs ({cpu}), {memory} GiB RAM, {platform.system()} {platform.release()}"


@dataclass
class Run:
    workers: int
    count: int
    done: int
    seconds: float  # from starting the workers until every invoice is paid (or the timeout)
    first_invoice: float  # when the first draft appeared (worker start-up and the first step)
    all_created: float | None
    worker_cpu: float  # CPU seconds, all worker processes
    pg_cpu: float  # CPU seconds, the PostgreSQL backends of the run's database
    machine_cpu: float  # busy CPU seconds of the whole machine
    timed_out: bool

    @property
    def rate(self) -> float:
        return self.done / self.seconds

    @property
    def other_cpu(self) -> float:
        return max(0.0, self.machine_cpu - self.worker_cpu - self.pg_cpu)


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def check(conn: asyncpg.Connection, count: int) -> None:
    """The run's guarantees: one cycle invoice per subscription, one charge per invoice, all renewed."""
    invoices, subs = await conn.fetchrow("SELECT count(*), count(DISTINCT subscription_id) FROM invoices "
                                         "WHERE billing_reason = 'subscription_cycle'")
    charges = await conn.fetchval("SELECT count(*) FROM test_charges")
    renewed = await conn.fetchval("SELECT count(*) FROM subscriptions s JOIN invoices i ON i.id = s.latest_invoice_id "
                                  "WHERE i.billing_reason = 'subscription_cycle' AND s.current_period_start = "
                                  "i.period_end")
    bad = await conn.fetchval("SELECT count(*) FROM invoices i WHERE subtotal <> "
                              "(SELECT coalesce(sum(amount), 0) FROM invoice_line_items WHERE invoice_id = i.id)")
    problems = [f"{name}: {value} (expected {expected})" for name, value, expected in (
        ("cycle invoices", invoices, count), ("subscriptions invoiced", subs, count),
        ("charges", charges, count), ("subscriptions renewed", renewed, count), ("invoices off their lines", bad, 0))
        if value != expected]
    if problems:
        raise AssertionError("; ".join(problems))


async def run_once(args, template: str, workers: int, redis_url: str, logs: Path) -> Run:
    name = f"{args.db_name}_run"
    await recreate_database(args.pg_server, name, template)
    redis = connect(redis_url)
    await redis.flushdb()
    await redis.aclose()
    db_url = f"{args.pg_server}/{name}"
    env = dict(os.environ, BILLING_DATABASE_URL=db_url, BILLING_REDIS_URL=redis_url, BILLING_LOG_LEVEL="WARNING",
               PYTHONPATH=str(ROOT))
    conn = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1), timeout=10)
    backends: dict[int, float] = {}
    processes: list[subprocess.Popen] = []
    busy, started = machine_busy(), time.perf_counter()
    first = all_created = None
    created = paid = 0
    try:
        processes = [start_worker(env, logs / f"worker-{workers}-{i}.log") for i in range(workers)]
        while (elapsed := time.perf_counter() - started) < args.timeout:
            created, paid = await conn.fetchrow(PROGRESS)
            now = time.perf_counter() - started
            first = first or (now if created else None)
            all_created = all_created or (now if created == args.count else None)
            for row in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> "
                                        "pg_backend_pid()", name):
                backends[row["pid"]] = max(backends.get(row["pid"], 0.0), proc_cpu(row["pid"]))
            if paid == args.count:
                break
            if any(p.poll() is not None for p in processes):
                raise RuntimeError(f"a worker exited; see {logs}")
            await asyncio.sleep(0.25)
        seconds = time.perf_counter() - started
        worker_cpu = sum(proc_cpu(p.pid) for p in processes)
        machine_cpu = machine_busy() - busy
        timed_out = paid < args.count
        if not timed_out:
            await check(conn, args.count)
    finally:
        for process in processes:
            stop(process)
        await conn.close()
        await drop_database(args.pg_server, name)
    return Run(workers=workers, count=args.count, done=paid, seconds=seconds if not timed_out else elapsed,
               first_invoice=first or seconds, all_created=all_created, worker_cpu=worker_cpu,
               pg_cpu=sum(backends.values()), machine_cpu=machine_cpu, timed_out=timed_out)


def describe(run: Run) -> str:
    done = f"{run.done}/{run.count} paid" + (" (TIMED OUT)" if run.timed_out else "")
    created = f"{run.all_created:.1f}" if run.all_created else "-"
    return (f"{run.workers} worker(s): {done} in {run.seconds:.1f} s = {run.rate:.1f} invoices/s; first draft at "
            f"{run.first_invoice:.1f} s, all drafts at {created} s; CPU s: workers {run.worker_cpu:.0f}, "
            f"PostgreSQL {run.pg_cpu:.0f}, other {run.other_cpu:.0f}")


def table(runs: list[Run]) -> str:
    """Medians per worker count."""
    by_workers: dict[int, list[Run]] = defaultdict(list)
    for run in runs:
        by_workers[run.workers].append(run)
    lines = ["| workers | runs | seconds | invoices/s | all drafts at s | worker CPU s | PG CPU s | other CPU s "
             "| paid |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for workers, group in sorted(by_workers.items()):
        def med(attr: str, group=group) -> float:
            values = [getattr(r, attr) for r in group if getattr(r, attr) is not None]
            return statistics.median(values) if values else float("nan")
        lines.append(f"| {workers} | {len(group)} | {med('seconds'):.1f} | {med('rate'):.1f} "
                     f"| {med('all_created'):.1f} | {med('worker_cpu'):.0f} | {med('pg_cpu'):.0f} "
                     f"| {med('other_cpu'):.0f} | {min(r.done for r in group)}/{group[0].count} |")
    return "\n".join(lines)


def hotspots(root, top: int = 15) -> str:
    """pyinstrument's samples as self time by package and by function (time waiting in epoll excluded)."""
    by_package: dict[str, float] = defaultdict(float)
    by_function: dict[str, float] = defaultdict(float)

    def walk(frame) -> None:
        children = [c for c in frame.children if not c.is_synthetic]
        own = frame.time - sum(c.time for c in children)
        path = frame.file_path or ""
        if own > 0 and not (frame.function == "select" and path.endswith("selectors.py")):
            package = path.split("site-packages/", 1)[1].split("/", 1)[0] if "site-packages/" in path else (
                path.removeprefix(f"{ROOT}/").split("/", 1)[0] if str(ROOT) in path else "stdlib")
            by_package[package] += own
            by_function[f"{frame.function} ({frame.file_path_short}:{frame.line_no})"] += own
        for child in children:
            walk(child)

    walk(root)
    busy = sum(by_package.values())
    out = [f"busy {busy:.1f} s of {root.time:.1f} s sampled; self time by package:"]
    out += [f"  {t / busy:6.1%}  {name}" for name, t in sorted(by_package.items(), key=lambda kv: -kv[1])[:10]]
    out += ["self time by function:"]
    out += [f"  {t / busy:6.1%}  {name}" for name, t in sorted(by_function.items(), key=lambda kv: -kv[1])[:top]]
    return "\n".join(out)


# ---------------------------------------------------------------- profile

class _Statements(logging.Handler):
    """Counts the SQL statements Tortoise sends (its db_client logger, at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def profile(args, redis_url: str) -> None:
    """The cycle in this process over N due subscriptions: statements and ms per step kind, and hotspots."""
    name = f"{args.db_name}_profile"
    await recreate_database(args.pg_server, name)
    db_url = f"{args.pg_server}/{name}"
    migrate(db_url)
    print(f"seeded {args.profile} subscriptions in {await seed(db_url, args.profile):.1f} s", flush=True)
    if args.setup_sql:
        await execute(db_url, args.setup_sql.read_text())
    statements = _Statements()
    logger = logging.getLogger("tortoise.db_client")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(statements)
    spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])  # kind -> [calls, seconds, statements]

    def timed(kind: str, fn):
        async def wrapper(*a):
            before, t = statements.count, time.perf_counter()
            try:
                return await fn(*a)
            finally:
                entry = spent[kind]
                entry[0] += 1
                entry[1] += time.perf_counter() - t
                entry[2] += statements.count - before
        return wrapper

    cycle.due_steps = timed("due_steps (read a batch of due steps)", cycle.due_steps)
    for kind, fn in list(cycle.KINDS.items()):
        cycle.KINDS[kind] = timed(f"chunk {kind}", fn)
    redis = connect(redis_url)
    profiler = None
    with contextlib.suppress(ImportError):
        from pyinstrument import Profiler
        profiler = Profiler(interval=0.001)
    await db.init(db_url)
    try:
        from app import outbox
        dispatch = timed("dispatch (publish events, mark dispatched)", lambda events: outbox.dispatch(redis, events))
        if profiler:
            profiler.start()
        started, before = time.perf_counter(), statements.count
        ran = await cycle.run_until(None, utcnow(), dispatch)
        seconds, total = time.perf_counter() - started, statements.count - before
        if profiler:
            profiler.stop()
        by_kind = Counter(await Subscription.all().values_list("status", flat=True))
    finally:
        await db.close()
        await redis.aclose()
        await drop_database(args.pg_server, name)
    n = args.profile
    print(f"{ran} steps for {n} subscriptions ({dict(by_kind)}) in {seconds:.2f} s: {n / seconds:.1f} "
          f"subscriptions/s, {seconds / n * 1000:.1f} ms and {total / n:.1f} SQL statements per subscription")
    print("| part | calls/sub | ms/sub | statements/sub | statements/call |\n|---|---:|---:|---:|---:|")
    for kind, (calls, secs, stmts) in sorted(spent.items(), key=lambda kv: -kv[1][1]):
        print(f"| {kind} | {calls / n:.1f} | {secs / n * 1000:.2f} | {stmts / n:.1f} | {stmts / calls:.1f} |")
    if profiler:
        print(hotspots(profiler.last_session.root_frame()))


# ---------------------------------------------------------------- main

async def main(args) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        server = None
        redis_url = args.redis_url
        if redis_url is None:
            server = EmbeddedRedis(scratch)
            redis_url = server.start()
        try:
            if args.profile:
                await profile(args, redis_url)
                return
            print(f"machine: {machine()}; PostgreSQL {await server_version(args.pg_server)}; code: {revision()}",
                  flush=True)
            template = f"{args.db_name}_seed"
            await recreate_database(args.pg_server, template)
            db_url = f"{args.pg_server}/{template}"
            migrate(db_url)
            print(f"seeded {args.count} subscriptions (ORM bulk_create) in {await seed(db_url, args.count):.1f} s",
                  flush=True)
            if args.setup_sql:
                await execute(db_url, args.setup_sql.read_text())
            runs = []
            try:
                for _ in range(args.runs):
                    for workers in args.workers:
                        run = await run_once(args, template, workers, redis_url, Path(scratch))
                        print(describe(run), flush=True)
                        runs.append(run)
            finally:
                await drop_database(args.pg_server, template)
            print(f"\n{table(runs)}\n")
            best = [r for r in runs if r.workers == 2 and not r.timed_out]
            if best:
                seconds = statistics.median(r.seconds for r in best)
                print(f"Target ({args.count} with 2 workers in < {TARGET_SECONDS} s): "
                      f"{'MET' if seconds < TARGET_SECONDS else 'NOT MET'} ({seconds:.1f} s)")
        finally:
            if server:
                server.stop()


async def server_version(server: str) -> str:
    conn = await asyncpg.connect(admin_dsn(server), timeout=10)
    try:
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
