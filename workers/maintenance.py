"""Housekeeping jobs: the outbox sweep and expired idempotency records."""
from app import idempotency, outbox


async def sweep_outbox(ctx: dict) -> int:
    """Dispatch events whose API process died between commit and dispatch."""
    return await outbox.sweep(ctx["redis"])


async def purge_idempotency_records(ctx: dict) -> int:
    return await idempotency.purge_expired()
