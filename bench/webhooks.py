"""Webhook benchmark: delivery throughput to a local receiver, and latency from commit to arrival.

Recreates a PostgreSQL database (`python -m app.cli migrate`), starts one `billing serve` and K `billing
worker` processes (BILLING_WEBHOOK_ALLOW_PRIVATE=1), and a receiver in this process (aiohttp, answers 200,
notes when each event arrived). Creates one webhook endpoint for `product.created`, then two phases:

1. latency: `--rate` createProduct mutations a second for `--seconds`; for each event, the time from the
   mutation's answer (the event committed and handed over just before) to its arrival at the receiver,
   and from the request's start (an upper bound). p50/p99 by nearest rank.
2. throughput: with the workers stopped, `--backlog` mutations queue their deliveries; the workers start
   and drain them. Deliveries/s = backlog / (last arrival - first arrival). Also CPU ms per delivery of the
   worker processes (from /proc).

Each arrival's signature is checked (HMAC, as `stripe.Webhook` does), and each event must arrive exactly once.

    .venv/bin/python bench/webhooks.py [--workers 1 2] [--rate 20] [--seconds 10] [--backlog 2000]
"""
import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
CREATE_ENDPOINT = """mutation($url: String!) { createWebhookEndpoint(input: {url: $url,
  enabledEvents: ["product.created"]}) { id secret } }"""
CREATE_PRODUCT = "mutation($n: String!) { createProduct(input: {name: $n}) { id } }"


def parse_args(argv=None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pg-server", default=env("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432"))
    p.add_argument("--db-name", default=env("BENCH_DB_NAME", "billing_webhooks_bench"),
                   help="dropped and recreated")
    p.add_argument("--redis-url", default=env("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
                   help="a Redis database the bench may FLUSHDB")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker processes per run")
    p.add_argument("--rate", type=float, default=20.0, help="mutations a second in the latency phase")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the latency phase")
    p.add_argument("--backlog", type=int, default=2000, help="deliveries queued for the throughput phase")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds a phase may take to drain")
    return p.parse_args(argv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid: int) -> float:
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


class Receiver:
    """Answers 200; records the arrival time of each event (by product id) and checks its signature."""

    def __init__(self) -> None:
        self.secret = ""
        self.arrivals: dict[str, float] = {}
        self.duplicates = 0
        self.bad_signatures = 0
        self.changed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        arrived = time.time()
        header = dict(part.split("=", 1) for part in request.headers["Stripe-Signature"].split(","))
        expected = hmac.new(self.secret.encode(), f"{header['t']}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, header["v1"]):
            self.bad_signatures += 1
        product = json.loads(body)["data"]["object"]["id"]
        if product in self.arrivals:
            self.duplicates += 1
        self.arrivals.setdefault(product, arrived)
        self.changed.set()
        return web.Response(text="ok")

    async def wait_until(self, done, seconds: float) -> bool:
        """Wait until done(arrived ids) holds, at most `seconds`; whether it holds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while not done(self.arrivals.keys()):
                    self.changed.clear()
                    await self.changed.wait()
        return done(self.arrivals.keys())


async def recreate_database(server: str, name: str) -> None:
    admin = await asyncpg.connect(server.replace("postgres://", "postgresql://", 1) + "/postgres", timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def start(command: str, env: dict, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app.cli", command, *extra], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def wait_ready(session: aiohttp.ClientSession, base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"API process exited with {proc.returncode}")
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(base + "/readyz") as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError("API not ready in time")


class Api:
    def __init__(self, session: aiohttp.ClientSession, url: str, secret: str) -> None:
        self.session, self.url, self.headers = session, url, {"Authorization": f"Bearer {secret}"}

    async def call(self, query: str, variables: dict) -> dict:
        async with self.session.post(self.url, json={"query": query, "variables": variables},
                                     headers=self.headers) as resp:
            body = await resp.json()
        if resp.status != 200 or body.get("errors"):
            raise RuntimeError(f"request failed ({resp.status}): {body}")
        return body["data"]

    async def product(self, name: str) -> tuple[str, float, float]:
        sent = time.time()
        product = (await self.call(CREATE_PRODUCT, {"n": name}))["createProduct"]["id"]
        return product, sent, time.time()


async def latency_phase(api: Api, receiver: Receiver, args) -> dict:
    count = int(args.rate * args.seconds)
    tasks = []
    started = time.monotonic()
    for i in range(count):
        await asyncio.sleep(max(0.0, started + i / args.rate - time.monotonic()))
        tasks.append(asyncio.create_task(api.product(f"latency {i}")))
    results = await asyncio.gather(*tasks)
    ids = {product for product, _, _ in results}
    complete = await receiver.wait_until(ids.issubset, args.timeout)
    arrived = [(receiver.arrivals[p], sent, answered) for p, sent, answered in results if p in receiver.arrivals]
    from_answer = [(a - answered) * 1000 for a, _, answered in arrived]
    from_sent = [(a - sent) * 1000 for a, sent, _ in arrived]
    return {"events": count, "complete": complete, "p50": percentile(from_answer, 0.5),
            "p99": percentile(from_answer, 0.99), "sent_p50": percentile(from_sent, 0.5),
            "sent_p99": percentile(from_sent, 0.99)}


async def throughput_phase(api: Api, receiver: Receiver, env: dict, workers: int, args) -> dict:
    """Deliveries queue up with no worker running; then `workers` workers drain them."""
    sem = asyncio.Semaphore(10)

    async def one(i: int) -> str:
        async with sem:
            return (await api.product(f"backlog {i}"))[0]

    ids = set(await asyncio.gather(*(one(i) for i in range(args.backlog))))
    procs = [start("worker", env) for _ in range(workers)]
    try:
        # start-up CPU (imports, connections) is not counted
        await receiver.wait_until(lambda arrived: not ids.isdisjoint(arrived), args.timeout)
        cpu_before = sum(proc_cpu(p.pid) for p in procs)
        complete = await receiver.wait_until(ids.issubset, args.timeout)
        cpu = sum(proc_cpu(p.pid) for p in procs) - cpu_before
    finally:
        for proc in procs:
            stop(proc)
    times = sorted(receiver.arrivals[p] for p in ids if p in receiver.arrivals)
    seconds = times[-1] - times[0] if len(times) > 1 else float("nan")
    return {"deliveries": len(times), "complete": complete, "seconds": seconds, "rate": (len(times) - 1) / seconds,
            "cpu_ms": cpu * 1000 / max(1, len(times))}


def migrate(env: dict) -> None:
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, env=env, check=True, timeout=120,
                   stdout=subprocess.DEVNULL)


def revision() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


async def run(args, workers: int) -> dict:
    db_url = f"{args.pg_server}/{args.db_name}"
    await recreate_database(args.pg_server, args.db_name)
    port, secret = free_port(), "sk_bench_" + os.urandom(12).hex()
    env = dict(os.environ, BILLING_DATABASE_URL=db_url, BILLING_REDIS_URL=args.redis_url, BILLING_SECRET_KEY=secret,
               BILLING_LOG_LEVEL="WARNING", BILLING_WEBHOOK_ALLOW_PRIVATE="1", PYTHONPATH=str(ROOT))
    migrate(env)
    client = aioredis.from_url(args.redis_url)
    await client.flushdb()
    await client.aclose()
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    hook_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", hook_port).start()
    api_proc = start("serve", env, "--port", str(port))
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, f"http://127.0.0.1:{port}", api_proc)
            api = Api(session, f"http://127.0.0.1:{port}/graphql", secret)
            endpoint = (await api.call(CREATE_ENDPOINT, {"url": f"http://127.0.0.1:{hook_port}/hook"}))
            receiver.secret = endpoint["createWebhookEndpoint"]["secret"]
            procs = [start("worker", env) for _ in range(workers)]
            try:
                await asyncio.sleep(3)  # worker start-up (its cron jobs run at start)
                latency = await latency_phase(api, receiver, args)
            finally:
                for proc in procs:
                    stop(proc)
            throughput = await throughput_phase(api, receiver, env, workers, args)
    finally:
        stop(api_proc)
        await runner.cleanup()
    return {"workers": workers, "latency": latency, "throughput": throughput,
            "duplicates": receiver.duplicates, "bad_signatures": receiver.bad_signatures}


async def main(argv=None) -> None:
    args = parse_args(argv)
    print(f"commit {revision()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| workers | latency: events | answer→arrival p50 / p99 ms | sent→arrival p50 / p99 ms "
          "| backlog | deliveries/s | worker CPU ms/delivery | duplicates | bad signatures |")
    print("|---|---|---|---|---|---|---|---|---|")
    for workers in args.workers:
        r = await run(args, workers)
        lat, thr = r["latency"], r["throughput"]
        print(f"| {workers} | {lat['events']}{'' if lat['complete'] else ' (incomplete)'} "
              f"| {lat['p50']:.0f} / {lat['p99']:.0f} | {lat['sent_p50']:.0f} / {lat['sent_p99']:.0f} "
              f"| {thr['deliveries']}{'' if thr['complete'] else ' (incomplete)'} | {thr['rate']:.0f} "
              f"| {thr['cpu_ms']:.1f} | {r['duplicates']} | {r['bad_signatures']} |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
