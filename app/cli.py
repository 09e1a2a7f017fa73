"""`billing dev | serve | worker | migrate | export-schema | create-key`."""
import argparse
import asyncio
import gc
import os
import signal
import subprocess
import sys
from pathlib import Path

from app import config, db, keys
from app.logs import setup_logging


async def _store_key(db_url: str, secret: str, name: str) -> None:
    await db.init(db_url)
    try:
        await keys.store(secret, name=name)
    finally:
        await db.close()


def _dev_secret(settings: config.Settings) -> str:
    """BILLING_SECRET_KEY when set; else the key kept in the data directory (made on first start)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "dev_secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = keys.generate()
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


async def _tune_gc(app) -> None:
    """Once started: freeze what start-up made (modules, schema, ORM; its garbage collected first), which
    lives as long as the process, so collections stop scanning it; and collect generation 0 after 10,000
    allocations instead of 700, since a request makes thousands of short-lived objects. Cuts the API CPU
    a request by 15-25 % (bench/README.md). Generation 1 is collected after every 2nd young collection
    (Python's default is 10, the first tuning had 50): graphql-core's execution context of each request is
    a reference cycle holding the request's variables (a 500-event batch is ~300 KB); a young collection
    during the request moves it to generation 1, where, collected only every 50 x 10,000 allocations, it
    piled up and the API's memory grew with every request (bench/README.md, ingestion)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 2, 10)


def _serve(settings: config.Settings, redis_url: str, host: str, port: int, banner: str | None = None) -> None:
    from aiohttp import web

    from app.http import create_app

    app = create_app(settings, redis_url)
    app.on_startup.append(_tune_gc)
    web.run_app(app, host=host, port=port, print=(lambda _: print(banner, flush=True))
                if banner else None, access_log=None)


def cmd_dev(args) -> None:
    """API + worker on embedded SQLite and embedded Redis; migrates on start. Webhooks may go to private
    addresses (a receiver on localhost) unless BILLING_WEBHOOK_ALLOW_PRIVATE says otherwise."""
    from app.redis import EmbeddedRedis

    os.environ.setdefault("BILLING_WEBHOOK_ALLOW_PRIVATE", "1")
    settings = config.load()
    embedded = None
    redis_url = settings.redis_url
    if not redis_url:
        embedded = EmbeddedRedis(settings.data_dir)
        redis_url = embedded.start()
    worker = None
    try:
        asyncio.run(db.migrate(settings.db_url))
        secret = _dev_secret(settings)
        asyncio.run(_store_key(settings.db_url, secret, "dev"))
        env = dict(os.environ, BILLING_REDIS_URL=redis_url)
        worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env)
        url = f"http://{args.host}:{args.port}/graphql"
        banner = (f"\nBilling engine running (embedded {'SQLite' if settings.embedded else 'database'}, "
                  f"{'embedded ' if embedded else ''}Redis at {redis_url}).\n"
                  f"  GraphiQL:   {url}\n"
                  f"  Secret key: {secret}\n"
                  f"  In GraphiQL's Headers tab: {{\"Authorization\": \"Bearer {secret}\"}}\n")
        _serve(settings, redis_url, args.host, args.port, banner)
    finally:
        try:
            if worker is not None:
                _stop(worker)
        finally:
            if embedded:
                embedded.stop()


def _stop(process: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM (arq finishes or cancels its jobs), then SIGKILL after `grace` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _require_redis(settings: config.Settings) -> str:
    if not settings.redis_url:
        sys.exit("BILLING_REDIS_URL is not set (billing dev starts an embedded Redis; serve and worker need one).")
    return settings.redis_url


def cmd_serve(args) -> None:
    settings = config.load()
    _serve(settings, _require_redis(settings), args.host or settings.host, args.port or settings.port)


def cmd_worker(args) -> None:
    from arq import run_worker

    settings = config.load()
    _require_redis(settings)
    from workers.settings import WorkerSettings

    run_worker(WorkerSettings)


def cmd_migrate(args) -> None:
    settings = config.load()
    asyncio.run(db.migrate(settings.db_url))
    if settings.secret_key:
        asyncio.run(_store_key(settings.db_url, settings.secret_key, "bootstrap"))
    print("migrations applied")


def cmd_export_schema(args) -> None:
    from app.graphql.schema import schema

    Path(args.path).write_text(schema.as_str() + "\n")
    print(f"wrote {args.path}")


def cmd_create_key(args) -> None:
    settings = config.load()
    secret = keys.generate()
    asyncio.run(_store_key(settings.db_url, secret, args.name))
    print(secret)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="billing", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="API + worker on embedded SQLite and Redis")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.set_defaults(func=cmd_dev)
    serve = sub.add_parser("serve", help="the API (BILLING_DATABASE_URL, BILLING_REDIS_URL)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("worker", help="the arq worker").set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    export = sub.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("path", nargs="?", default="schema.graphql")
    export.set_defaults(func=cmd_export_schema)
    key = sub.add_parser("create-key", help="create a secret API key and print it")
    key.add_argument("--name", default=None)
    key.set_defaults(func=cmd_create_key)
    args = parser.parse_args(argv)
    setup_logging(config.load().log_level)
    args.func(args)


if __name__ == "__main__":
    main()
