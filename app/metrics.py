"""Prometheus metrics: request counts and latencies by path and GraphQL operation name."""
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter("billing_http_requests_total", "HTTP requests", ["path", "operation", "status"])
LATENCY = Histogram(
    "billing_http_request_seconds", "HTTP request latency", ["path", "operation"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def observe(path: str, operation: str, status: int, seconds: float) -> None:
    if path == "/metrics":
        return
    REQUESTS.labels(path, operation, str(status)).inc()
    LATENCY.labels(path, operation).observe(seconds)


async def handler(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
