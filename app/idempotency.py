"""Idempotency-Key on mutation requests: a retry gets the first answer back for 24 hours.

The record is inserted before the request runs, so a unique constraint on (key owner, key)
decides which of two concurrent requests executes; the other is told the key is in use.
"""
import hashlib
import json
from datetime import timedelta

from aiohttp import web
from graphql import GraphQLSyntaxError, OperationType, parse
from tortoise.exceptions import IntegrityError

from app.clock import utcnow
from app.models.access import IdempotencyRecord
from app.request_state import GRAPHQL_PAYLOAD, PRINCIPAL

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def _error(message: str, code: str, status: int) -> web.Response:
    body = {"errors": [{"message": message,
                        "extensions": {"code": code, "type": "idempotency_error", "param": None}}]}
    return web.json_response(body, status=status)


def _is_mutation(payload: dict) -> bool:
    try:
        document = parse(payload.get("query") or "")
    except GraphQLSyntaxError:
        return False
    name = payload.get("operationName")
    for definition in document.definitions:
        operation = getattr(definition, "operation", None)
        if operation is not None and (name is None or getattr(definition.name, "value", None) == name):
            return operation == OperationType.MUTATION
    return False


def _fingerprint(payload: dict) -> str:
    canonical = json.dumps({"query": payload.get("query"), "operationName": payload.get("operationName"),
                            "variables": payload.get("variables") or {}}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _claim(scope: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """Insert the record: None when this request now owns the key, else the live record holding it.

    An expired record is deleted and the insert tried again."""
    now = utcnow()
    while True:
        try:
            await IdempotencyRecord.create(scope=scope, key=key, request_hash=fingerprint, created=now,
                                           expires_at=now + TTL)
            return None
        except IntegrityError:
            existing = await IdempotencyRecord.get_or_none(scope=scope, key=key)
        if existing is not None and existing.expires_at > now:
            return existing
        if existing is not None:
            await IdempotencyRecord.filter(id=existing.id, expires_at__lte=now).delete()


@web.middleware
async def idempotency_middleware(request: web.Request, handler):
    key = request.headers.get("Idempotency-Key")
    payload = request.get(GRAPHQL_PAYLOAD)
    principal = request.get(PRINCIPAL)
    if not key or payload is None or principal is None or not _is_mutation(payload):
        return await handler(request)
    if len(key) > MAX_KEY_LENGTH:
        return _error(f"Idempotency-Key can be at most {MAX_KEY_LENGTH} characters.", "idempotency_key_invalid", 400)
    fingerprint = _fingerprint(payload)
    existing = await _claim(principal.id, key, fingerprint)
    if existing is not None:
        if existing.request_hash != fingerprint:
            return _error("Keys for idempotent requests can only be used with the same operation and variables "
                          "they were first used with.", "idempotency_key_reused", 400)
        if existing.response is None:
            return _error("There is currently another in-progress request using this Idempotency-Key. "
                          "Retry after it has completed.", "idempotency_key_in_use", 409)
        return web.Response(text=existing.response, status=existing.status_code, content_type="application/json",
                            headers={"Idempotent-Replayed": "true"})
    try:
        response = await handler(request)
    except BaseException:
        await IdempotencyRecord.filter(scope=principal.id, key=key).delete()
        raise
    if response.status >= 500 or not isinstance(response, web.Response) or response.body is None:
        await IdempotencyRecord.filter(scope=principal.id, key=key).delete()
        return response
    await IdempotencyRecord.filter(scope=principal.id, key=key).update(
        response=response.text, status_code=response.status)
    return response


async def purge_expired() -> int:
    return await IdempotencyRecord.filter(expires_at__lte=utcnow()).delete()
