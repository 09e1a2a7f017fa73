"""What deliveries refuse and when endpoints stop: private addresses at delivery time, endpoints failing for
days disabled with an event, disabled and deleted endpoints, and one POST per attempt under concurrency."""
import asyncio
from datetime import timedelta

from aiohttp import web

from app.billing.events import atomic, record
from app.billing.webhooks import plan_deliveries, wall_clock
from app.models.events import Event
from app.models.webhooks import WebhookDelivery, WebhookEndpoint
from tests.webhooks.hooks import create_endpoint, create_product, deliveries
from workers.webhooks import deliver_webhook

UPDATE = ("mutation($id: ID!, $input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(id: $id, input: $input) "
          "{ status } }")


async def test_a_private_address_is_refused_at_delivery(hook_api, receiver, run_worker, worker_env):
    """Saved while private addresses were allowed (or DNS pointed elsewhere): the worker checks again."""
    worker_env.delenv("BILLING_WEBHOOK_ALLOW_PRIVATE")
    worker_env.setenv("BILLING_WEBHOOK_RETRY_HOURS", "0")
    by_ip = await create_endpoint(hook_api, receiver.url(), ["product.created"])
    by_name = await create_endpoint(hook_api, receiver.url().replace("127.0.0.1", "localhost"), ["product.created"])
    await create_product(hook_api)
    await run_worker()
    assert receiver.received == []
    for endpoint in (by_ip, by_name):
        [delivery] = await deliveries(hook_api, endpoint["id"])
        assert delivery["status"] == "failed" and delivery["lastStatusCode"] is None
        assert delivery["lastError"].startswith("refused: ") and "127.0.0.1" in delivery["lastError"]


async def test_an_endpoint_failing_for_days_is_disabled_with_an_event(hook_api, receiver, run_worker, worker_env):
    worker_env.setenv("BILLING_WEBHOOK_RETRY_HOURS", "0")
    failing = await create_endpoint(hook_api, receiver.url("/failing"), ["product.created"])
    watcher = await create_endpoint(hook_api, receiver.url("/watcher"), ["webhook_endpoint.disabled"])
    receiver.script = [500]
    await create_product(hook_api, "first")
    await run_worker()
    stored = await WebhookEndpoint.get(id=failing["id"])
    assert stored.status == "enabled" and stored.failing_since is not None  # one failure: not yet
    await WebhookEndpoint.filter(id=failing["id"]).update(failing_since=wall_clock() - timedelta(days=3, hours=1))
    receiver.script = [500]
    await create_product(hook_api, "second")
    await run_worker()
    assert (await hook_api.ok("query($id: ID!) { webhookEndpoint(id: $id) { status } }", {"id": failing["id"]})
            )["webhookEndpoint"]["status"] == "DISABLED"
    [event] = await Event.filter(type="webhook_endpoint.disabled")
    assert event.data["object"]["id"] == failing["id"] and event.data["previous_attributes"] == {"status": "enabled"}
    assert len(receiver.bodies("/watcher")) == 1  # the event reached the endpoint that listens for it
    await create_product(hook_api, "third")  # a disabled endpoint gets no more deliveries
    await run_worker()
    assert len(receiver.bodies("/failing")) == 2 and len(await deliveries(hook_api, failing["id"])) == 2
    assert len(await deliveries(hook_api, watcher["id"])) == 1


async def test_a_success_ends_the_failing_streak(hook_api, receiver, run_worker):
    endpoint = await create_endpoint(hook_api, receiver.url(), ["product.created"])
    receiver.script = [500]
    await create_product(hook_api)
    await run_worker()
    assert (await WebhookEndpoint.get(id=endpoint["id"])).failing_since is None


async def test_pending_deliveries_of_a_disabled_or_deleted_endpoint_are_canceled(hook_api, receiver, queue):
    disabled = await create_endpoint(hook_api, receiver.url("/a"), ["product.created"])
    deleted = await create_endpoint(hook_api, receiver.url("/b"), ["product.created"])
    await create_product(hook_api)
    await hook_api.ok(UPDATE, {"id": disabled["id"], "input": {"disabled": True}})
    await hook_api.ok("mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { id } }", {"id": deleted["id"]})
    for delivery in await WebhookDelivery.all():
        assert await deliver_webhook({"redis": queue}, delivery.id) == "not due"
        delivery = await WebhookDelivery.get(id=delivery.id)
        assert delivery.status == "canceled" and delivery.attempts == 0
    assert receiver.received == []
    assert (await Event.get(type="product.created")).pending_webhooks == 0
    [logged] = await deliveries(hook_api, disabled["id"])
    assert logged["nextRetryAt"] is None and not logged["succeeded"] and logged["status"] == "canceled"


async def test_concurrent_jobs_for_one_delivery_post_once(pg_hook_api, receiver, queue):
    async def slow(request):
        await asyncio.sleep(0.3)
        return web.Response(text="ok")

    receiver.script = [slow]
    await create_endpoint(pg_hook_api, receiver.url(), ["product.created"])
    await create_product(pg_hook_api)
    [delivery] = await WebhookDelivery.all()
    results = await asyncio.gather(*(deliver_webhook({"redis": queue}, delivery.id) for _ in range(5)))
    assert sorted(results) == ["not due"] * 4 + ["succeeded"]
    assert len(receiver.received) == 1
    assert (await WebhookDelivery.get(id=delivery.id)).attempts == 1


async def test_concurrent_dispatches_of_one_event_plan_it_once(pg_hook_api, receiver):
    await create_endpoint(pg_hook_api, receiver.url(), ["product.created"])
    async with atomic() as uow:
        await record("product.created", {"id": "prod_x", "object": "product"})
    ids = [e.id for e in uow.events]
    planned = await asyncio.gather(*(plan_deliveries(uow.events) for _ in range(5)))
    assert sorted(len(p) for p in planned) == [0, 0, 0, 0, 1]
    assert await WebhookDelivery.all().count() == 1 and (await Event.get(id=ids[0])).pending_webhooks == 1
