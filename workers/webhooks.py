"""Webhook jobs: deliver one event to one endpoint (signed, one attempt, the next one scheduled), and a sweep
that re-queues deliveries whose job was lost. Thin wrappers over app/billing/webhooks."""
import time
from contextlib import asynccontextmanager
from datetime import timedelta

from app import outbox
from app.billing import webhooks
from app.billing.events import atomic
from app.config import load_webhook_settings
from app.webhook_http import new_client, post

HTTP_CLIENT = "webhook_http_client"
LEASE_MARGIN = timedelta(seconds=30)


async def startup(ctx: dict) -> None:
    ctx[HTTP_CLIENT] = new_client(load_webhook_settings().allow_private)


async def shutdown(ctx: dict) -> None:
    if HTTP_CLIENT in ctx:
        await ctx[HTTP_CLIENT].close()


@asynccontextmanager
async def _client(ctx: dict, allow_private: bool):
    """The worker's client; a worker started without `startup` (tests' burst workers) gets one per job."""
    if HTTP_CLIENT in ctx:
        yield ctx[HTTP_CLIENT]
    else:
        async with new_client(allow_private) as client:
            yield client


async def deliver_webhook(ctx: dict, delivery_id: str) -> str:
    policy = load_webhook_settings()
    taken = await webhooks.take(delivery_id, timedelta(seconds=policy.timeout_seconds) + LEASE_MARGIN)
    if taken is None:
        return "not due"
    body = webhooks.payload(taken.event)
    sent_at = webhooks.wall_clock()
    headers = {"Stripe-Signature": webhooks.signature_header(
        body, webhooks.signing_secrets(taken.endpoint, sent_at), int(sent_at.timestamp()))}
    async with _client(ctx, policy.allow_private) as client:
        status, error, duration = await post(client, taken.endpoint.url, body, headers,
                                             timeout_seconds=policy.timeout_seconds, allow_private=policy.allow_private)
    attempt = webhooks.Attempt(sent_at, status, error, duration)
    async with atomic() as uow:
        retry_at = await webhooks.finish(taken, attempt, policy)
    await outbox.dispatch(ctx["redis"], uow.events)
    if retry_at is not None:
        await ctx["redis"].enqueue_job(outbox.DELIVER_JOB, delivery_id, _defer_until=retry_at,
                                       _job_id=outbox.delivery_job_id(delivery_id, taken.delivery.attempts + 1))
    return "succeeded" if attempt.succeeded else f"failed: {error}"


async def sweep_deliveries(ctx: dict) -> int:
    """Queue deliveries overdue with no worker on them (their job was lost), under fresh job ids."""
    due = await webhooks.due_deliveries(grace=timedelta(seconds=30))
    stamp = int(time.time())
    for delivery_id, attempts in due:
        await ctx["redis"].enqueue_job(outbox.DELIVER_JOB, delivery_id,
                                       _job_id=f"{outbox.delivery_job_id(delivery_id, attempts)}:swept:{stamp}")
    return len(due)
