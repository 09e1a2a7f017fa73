"""Idempotency-Key on mutation requests: a retry gets the first answer back for 24 hours.

The record is inserted before the request runs, so a unique constraint on (key owner, key)
decides which of two concurrent requests executes; the other is told the key is in use.
As in Stripe, a refused request (a BillingError) is stored and replayed; an unexpected error
is not, since its transaction rolled back and a retry may succeed.
"""
import hashlib
import json
from datetime import timedelta

from aiohttp import web
from graphql import GraphQLSyntaxError, OperationType, parse
from graphql.utilities import get_operation_ast
from tortoise.exceptions import IntegrityError

from app.clock import utcnow
from app.models.access import IdempotencyRecord
from app.request_state import GRAPHQL_PAYLOAD, PRINCIPAL

TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255
# An in-progress record older than this belongs to a request whose process died: the key is freed.
ABANDONED_AFTER = timedelta(minutes=5)


def _error(message: str, code: str, status: int) -> web.Response:
    body = {"errors": [{"message": message,
                        "extensions": {"code": code, "type": "idempotency_error", "param": None}}]}
    return web.json_response(body, status=status)


def _is_mutation(payload: dict) -> bool:
    query, name = payload.get("query"), payload.get("operationName")
    if not isinstance(query, str) or not (name is None or isinstance(name, str)):
        return False
    try:
        operation = get_operation_ast(parse(query), name)
    except GraphQLSyntaxError:
        return False
    return operation is not None and operation.operation == OperationType.MUTATION


def _fingerprint(payload: dict) -> str:
    canonical = json.dumps({"query": payload.get("query"), "operationName": payload.get("operationName"),
                            "variables": payload.get("variables") or {}}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _unexpected(response: web.Response) -> bool:
    """A server failure: a 5xx, or a GraphQL result carrying an api_error."""
    if response.status >= 500:
        return True
    try:
        errors = json.loads(response.text).get("errors") or []
    except (ValueError, AttributeError):
        return False
    return any((error.get("extensions") or {}).get("type") == "api_error" for error in errors)


async def _claim(scope: str, key: str, fingerprint: str, ttl: timedelta) -> IdempotencyRecord | None:
    """Insert the record: None when this request now owns the key, else the live record holding it.

    An expired record, or an in-progress one abandoned by a dead process, is deleted and the insert
    tried again."""
    now = utcnow()
    while True:
        try:
            await IdempotencyRecord.create(scope=scope, key=key, request_hash=fingerprint, created=now,
                                           expires_at=now + ttl)
            return None
        except IntegrityError:
            existing = await IdempotencyRecord.get_or_none(scope=scope, key=key)
        if existing is None:
            continue
        abandoned = existing.response is None and existing.created <= now - ABANDONED_AFTER
        if existing.expires_at > now and not abandoned:
            return existing
        await IdempotencyRecord.filter(id=existing.id, created=existing.created).delete()


def idempotency_middleware(ttl_seconds: int = TTL_SECONDS):
    """The middleware, after authentication: records are scoped to the calling key."""
    ttl = timedelta(seconds=ttl_seconds)

    @web.middleware
    async def middleware(request: web.Request, handler):
        key = request.headers.get("Idempotency-Key")
        payload = request.get(GRAPHQL_PAYLOAD)
        principal = request.get(PRINCIPAL)
        if not key or payload is None or principal is None or not _is_mutation(payload):
            return await handler(request)
        if len(key) > MAX_KEY_LENGTH:
            return _error(f"Idempotency-Key can be at most {MAX_KEY_LENGTH} characters.",
                          "idempotency_key_invalid", 400)
        fingerprint = _fingerprint(payload)
        existing = await _claim(principal.id, key, fingerprint, ttl)
        if existing is not None:
            if existing.request_hash != fingerprint:
                return _error("Keys for idempotent requests can only be used with the same operation and variables "
                              "they were first used with.", "idempotency_key_reused", 400)
            if existing.response is None:
                return _error("There is currently another in-progress request using this Idempotency-Key. "
                              "Retry after it has completed.", "idempotency_key_in_use", 409)
            return web.Response(text=existing.response, status=existing.status_code,
                                content_type="application/json", headers={"Idempotent-Replayed": "true"})
        record = IdempotencyRecord.filter(scope=principal.id, key=key)
        try:
            response = await handler(request)
        except BaseException:
            await record.delete()
            raise
        if not isinstance(response, web.Response) or response.body is None or _unexpected(response):
            await record.delete()
        else:
            await record.update(response=response.text, status_code=response.status)
        return response

    return middleware


async def purge_expired() -> int:
    """Delete the records whose 24 hours are over; the number deleted."""
    return await IdempotencyRecord.filter(expires_at__lte=utcnow()).delete()
