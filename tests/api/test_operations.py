"""Operations: health and readiness, Prometheus metrics, JSON logs, unexpected errors, body size limit."""
import json
import logging
import socket
import sys

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from tortoise import Tortoise

from app import metrics
from app.config import Settings
from app.http import create_app
from app.logs import JsonFormatter


async def test_healthz(api):
    response = await api.client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz(api):
    response = await api.client.get("/readyz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


async def test_readyz_is_503_when_redis_is_unreachable(db):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Settings(), f"redis://127.0.0.1:{port}/0", manage_db=False)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/readyz")
        body = await response.json()
        assert response.status == 503
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("error: ")
        assert (await client.get("/healthz")).status == 200


async def _samples(api) -> dict:
    response = await api.client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(await response.text()) for s in family.samples}


async def test_metrics_by_operation_name(api):
    count = ("billing_http_requests_total",
             (("operation", "ListProducts"), ("path", "/graphql"), ("status", "200")))
    latency = ("billing_http_request_seconds_count", (("operation", "ListProducts"), ("path", "/graphql")))
    before = await _samples(api)
    for _ in range(2):
        await api.ok("query ListProducts { products { nodes { id } } }")
    after = await _samples(api)
    assert after[count] - before.get(count, 0) == 2
    assert after[latency] - before.get(latency, 0) == 2
    assert not any(labels and dict(labels).get("path") == "/metrics" for _, labels in after)


async def test_metrics_labels_are_bounded(api):
    await api.client.get("/no-such-path-1234")
    await api.client.post("/graphql", json={"query": "query X { products { nodes { id } } }",
                                            "operationName": "drop table; --"},
                          headers={"Authorization": f"Bearer {api.secret}"})
    samples = [dict(labels) for _, labels in await _samples(api)]
    paths = {labels.get("path") for labels in samples}
    operations = {labels.get("operation") for labels in samples}
    assert "/no-such-path-1234" not in paths and "other" in paths
    assert "drop table; --" not in operations and "other" in operations


def test_bounded_labels():
    bounded = metrics.BoundedLabels(2)
    assert [bounded(n) for n in ("A", "B", "C", "A", "B", "bad name", "x" * 101)] == \
        ["A", "B", "other", "A", "B", "other", "other"]


def test_operation_label():
    label = metrics.operation_label
    assert label({"query": "{ products { nodes { id } } }", "operationName": "Mine"}) == "Mine"
    assert label({"query": "query ListProducts { products { nodes { id } } }"}) == "ListProducts"
    assert label({"query": "fragment F on Product { id }\n# query Commented\n"
                           'mutation M { createProduct(input: {name: "query Quoted"}) { ...F } }'}) == "M"
    assert label({"query": "{ products { nodes { id } } }"}) == "anonymous"
    assert label({"query": "mutation($a: Int) { x }"}) == "anonymous"
    assert label({"query": "query \"unterminated"}) == "anonymous"
    assert label({"query": "{ x }", "operationName": ["not", "a", "string"]}) == "other"


def test_json_log_lines():
    formatter = JsonFormatter()
    record = logging.makeLogRecord({"name": "app.http", "levelname": "INFO", "msg": "request %s",
                                    "args": ("done",), "request_id": "req_123", "status": 200})
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "req_123" and entry["status"] == 200
    assert (entry["level"], entry["logger"], entry["message"]) == ("info", "app.http", "request done")
    assert entry["time"].endswith("+00:00")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.makeLogRecord({"msg": "failed", "exc_info": sys.exc_info(), "level": "shadow"})
    entry = json.loads(formatter.format(record))
    assert "RuntimeError: boom" in entry["exception"]
    assert entry["level"] != "shadow"


async def test_unexpected_error_is_logged_with_request_id_and_hides_internals(api, caplog):
    conn = Tortoise.get_connection("default")
    cascade = " CASCADE" if conn.capabilities.dialect == "postgres" else ""
    await conn.execute_script(f'DROP TABLE "features"{cascade}')
    response = await api.client.post("/graphql", json={"query": "{ features { nodes { id } } }"},
                                     headers={"Authorization": f"Bearer {api.secret}"})
    body = await response.json()
    request_id = response.headers["Request-Id"]
    error = body["errors"][0]
    assert error["extensions"] == {"code": "api_error", "type": "api_error", "param": None, "requestId": request_id}
    assert request_id in error["message"]
    assert not any(word in error["message"].lower() for word in ("feature", "select", "table", "sql"))
    assert not any(word in json.dumps(body).lower() for word in ("no such table", "relation", "operationalerror",
                                                                   "select", "traceback"))
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == request_id and r.exc_info]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR
    assert "features" in str(logged[0].exc_info[1])


async def test_request_body_over_the_limit_is_413(api):
    headers = {"Authorization": f"Bearer {api.secret}"}
    query = "{ products { nodes { id } } }"
    under = await api.client.post("/graphql", json={"query": query, "variables": {"pad": "x" * 200_000}},
                                  headers=headers)
    assert under.status == 200
    over = await api.client.post("/graphql", json={"query": query, "variables": {"pad": "x" * 300_000}},
                                 headers=headers)
    assert over.status == 413
