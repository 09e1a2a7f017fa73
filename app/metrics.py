"""Prometheus metrics: request counts and latencies by path and GraphQL operation name.

Label values come from clients, so both labels are bounded: unknown paths and operation names
that are not GraphQL names, or arrive after MAX_OPERATIONS distinct ones, count as "other".
"""
import re

from aiohttp import web
from graphql import GraphQLSyntaxError, Source, TokenKind
from graphql.language import Lexer
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

PATHS = frozenset({"/graphql", "/healthz", "/readyz"})
MAX_OPERATIONS = 200
OTHER = "other"
_OPERATION_TYPES = frozenset({"query", "mutation", "subscription"})
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")

REQUESTS = Counter("billing_http_requests_total", "HTTP requests", ["path", "operation", "status"])
LATENCY = Histogram(
    "billing_http_request_seconds", "HTTP request latency", ["path", "operation"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class BoundedLabels:
    """The first `limit` distinct valid names pass as they are; any other becomes "other"."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, name: str) -> str:
        if name in self.seen:
            return name
        if not _NAME.fullmatch(name) or len(self.seen) >= self.limit:
            return OTHER
        self.seen.add(name)
        return name


OPERATIONS = BoundedLabels(MAX_OPERATIONS)


def _named_operation(query: str) -> str | None:
    """The name after the first top-level query/mutation/subscription keyword: a lexer scan, no parse."""
    lexer = Lexer(Source(query))
    depth = 0
    try:
        token = lexer.advance()
        while token.kind != TokenKind.EOF:
            if token.kind == TokenKind.BRACE_L:
                depth += 1
            elif token.kind == TokenKind.BRACE_R:
                depth -= 1
            elif depth == 0 and token.kind == TokenKind.NAME and token.value in _OPERATION_TYPES:
                token = lexer.advance()
                return token.value if token.kind == TokenKind.NAME else None
            token = lexer.advance()
    except GraphQLSyntaxError:
        return None
    return None


def operation_label(payload: dict) -> str:
    """The operationName a GraphQL request names (or its document's only operation), bounded."""
    name = payload.get("operationName")
    if name is None and isinstance(payload.get("query"), str):
        name = _named_operation(payload["query"])
    if name is None:
        return "anonymous"
    return OPERATIONS(name) if isinstance(name, str) else OTHER


def observe(path: str, operation: str, status: int, seconds: float) -> None:
    if path == "/metrics":
        return
    if path not in PATHS:
        path = operation = OTHER
    REQUESTS.labels(path, operation, str(status)).inc()
    LATENCY.labels(path, operation).observe(seconds)


async def handler(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
