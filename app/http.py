"""The aiohttp application: /graphql (API and GraphiQL), /healthz, /readyz, /metrics."""
import asyncio
import json
import logging
import re
import time

from aiohttp import web
from arq import ArqRedis
from strawberry import UNSET
from strawberry.aiohttp.views import GraphQLView
from strawberry.exceptions import ConnectionRejectionError

from app import db, graphiql, keys, metrics, outbox, websockets
from app.billing import meter_drain
from app.billing.customer_sessions import is_session_secret
from app.clock import utcnow
from app.config import Settings
from app.graphql import auth
from app.graphql.context import Context
from app.graphql.errors import format_error
from app.graphql.read_cache import ReadCache
from app.graphql.schema import schema
from app.idempotency import idempotency_middleware
from app.ids import new_id
from app.live_bus import LiveBus
from app.redis import connect
from app.request_state import GRAPHQL_PAYLOAD, OPERATION_NAME, PRINCIPAL, REQUEST_ID

log = logging.getLogger("app.http")
_REQUEST_ID = re.compile(r"[A-Za-z0-9_\-]{8,64}")
READY_TIMEOUT = 2.0

REDIS = web.AppKey("redis", object)
QUEUE = web.AppKey("queue", ArqRedis)
SETTINGS = web.AppKey("settings", Settings)
READ_CACHE = web.AppKey("read_cache", ReadCache)
BUS = web.AppKey("bus", LiveBus)
METER_CONSUMER = web.AppKey("meter_consumer", str)


def error_body(message: str, *, type: str, code: str, param: str | None = None, **extra) -> dict:
    return {"errors": [{"message": message, "extensions": {"code": code, "type": type, "param": param, **extra}}]}


class BillingGraphQLView(GraphQLView):
    graphql_transport_ws_handler_class = websockets.TransportWSHandler
    graphql_ws_handler_class = websockets.LegacyWSHandler

    async def render_graphql_ide(self, request: web.Request) -> web.Response:
        return graphiql.render_page()

    async def get_context(self, request: web.Request, response) -> Context:
        redis, cache = request.app[REDIS], request.app[READ_CACHE]

        async def dispatch(events):
            cache.saw(event.type for event in events)  # this process reads its own writes at once
            await outbox.dispatch(redis, events, request.app[QUEUE])

        context = Context(
            principal=request.get(PRINCIPAL), request_id=request.get(REQUEST_ID, ""), request=request,
            dispatch=dispatch, enqueue=request.app[QUEUE].enqueue_job, read_cache=cache, redis=redis,
            meter_dedup_seconds=request.app[SETTINGS].meter_dedup_seconds,
            webhooks=request.app[SETTINGS].webhook, bus=request.app[BUS],
            meter_consumer=request.app[METER_CONSUMER],
        )
        if isinstance(response, web.WebSocketResponse):
            context.websocket = response
        return context

    async def on_ws_connect(self, context: Context):
        """Authenticate a websocket from its connection_init payload: {"authorization": "Bearer ..."}."""
        params = context.connection_params or {}
        header = params.get("authorization") or params.get("Authorization") or ""
        scheme, _, secret = header.partition(" ") if isinstance(header, str) else ("", "", "")
        principal = await auth.authenticate(secret.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            raise ConnectionRejectionError({"message": "Invalid or missing secret in connection_init."})
        context.principal = principal
        if principal.expires_at is not None:
            websockets.close_at_expiry(context, context.websocket,
                                       (principal.expires_at - utcnow()).total_seconds())
        return UNSET

    async def process_result(self, request: web.Request, result):
        data = await super().process_result(request, result)
        if result.errors:
            request_id = request.get(REQUEST_ID, "")
            data["errors"] = [format_error(e, request_id).formatted for e in result.errors]
        return data


@web.middleware
async def request_context(request: web.Request, handler):
    """Request id, structured access log, metrics, and a JSON api_error for anything unexpected."""
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _REQUEST_ID.fullmatch(given) else new_id("req", 16)
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
    except web.HTTPException as exc:
        status = exc.status
        raise
    except Exception:
        log.exception("unhandled error", extra={"request_id": request_id})
        response = web.json_response(
            error_body(f"An unexpected error occurred. Request id: {request_id}.", type="api_error",
                       code="api_error", requestId=request_id), status=500)
    finally:
        elapsed = time.perf_counter() - started
        operation = request.get(OPERATION_NAME, "-")
        metrics.observe(request.path, operation, status, elapsed)
        log.info("request", extra={"request_id": request_id, "method": request.method, "path": request.path,
                                   "operation": operation, "status": status, "ms": round(elapsed * 1000, 2)})
    response.headers["Request-Id"] = request_id
    return response


def _is_api_call(request: web.Request) -> bool:
    """GraphQL operations need a key; the GraphiQL page itself (GET, text/html) does not."""
    if request.path != "/graphql":
        return False
    if request.method == "POST":
        return True
    return request.method == "GET" and "query" in request.query


@web.middleware
async def authenticate(request: web.Request, handler):
    if not _is_api_call(request):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip() if scheme.lower() == "bearer" else ""
    principal = await auth.authenticate(secret)
    if principal is None:
        message = ("Invalid or expired customer session secret." if is_session_secret(secret) else
                   "Invalid API key provided." if header else
                   "You did not provide an API key. Send it as 'Authorization: Bearer <secret key>'.")
        return web.json_response(error_body(message, type="authentication_error", code="unauthenticated"),
                                 status=401)
    request[PRINCIPAL] = principal
    return await handler(request)


@web.middleware
async def operation_name(request: web.Request, handler):
    """Read the operation name once, for metrics and logs."""
    if request.path == "/graphql" and request.method == "POST" and request.can_read_body:
        try:
            payload = json.loads(await request.read())
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            request[GRAPHQL_PAYLOAD] = payload
            request[OPERATION_NAME] = metrics.operation_label(payload)
    return await handler(request)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _check(probe) -> str:
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await probe()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure
        return f"error: {type(exc).__name__}"


async def readyz(request: web.Request) -> web.Response:
    checks = {"database": await _check(db.ping), "redis": await _check(request.app[REDIS].ping)}
    ready = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ok" if ready else "unavailable", "checks": checks},
                             status=200 if ready else 503)


def create_app(settings: Settings, redis_url: str, *, manage_db: bool = True) -> web.Application:
    """manage_db=False leaves Tortoise to the caller (tests own their database)."""
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[request_context, operation_name, authenticate,
                     idempotency_middleware(settings.idempotency_ttl_seconds)],
    )
    app[SETTINGS] = settings
    app[METER_CONSUMER] = meter_drain.consumer_name()

    async def resources(app: web.Application):
        tortoise = await db.init(settings.db_url) if manage_db else None
        app[REDIS] = connect(redis_url)
        app[QUEUE] = ArqRedis.from_url(redis_url)  # connects on first use: the API starts while Redis is down
        if settings.secret_key:
            await keys.store(settings.secret_key, name="bootstrap")
        app[READ_CACHE] = ReadCache(settings.read_cache_seconds)
        app[BUS] = LiveBus()
        if settings.read_cache_seconds > 0:
            app[BUS].add_listener(app[READ_CACHE])
        follower = asyncio.create_task(app[BUS].follow(app[REDIS]))
        yield
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await app[QUEUE].aclose()
        await app[REDIS].aclose()
        if tortoise is not None:
            await db.close(tortoise)

    app.cleanup_ctx.append(resources)
    view = BillingGraphQLView(schema=schema, connection_init_wait_timeout=websockets.INIT_TIMEOUT)
    app.router.add_route("*", "/graphql", view)
    graphiql.add_assets_route(app)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics.handler)
    return app


