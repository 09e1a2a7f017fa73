"""Delivering events to endpoints with a real arq worker and real HTTP receivers: Stripe's signature checked by
the official `stripe` package, retries with the delivery log, redirects, timeouts, and the outbox."""
import asyncio
import json
import time
from datetime import datetime, timedelta

import stripe
from aiohttp import web

from app.billing.events import atomic, record
from app.billing.webhooks import plan_deliveries, retry_delay, wall_clock
from app.clock import utcnow
from app.config import WebhookSettings
from app.ids import made_before, new_id
from app.models.events import Event
from app.models.webhooks import WebhookDelivery
from app.outbox import delivery_job_id
from tests.billing_flows import create_clock, create_customer
from tests.webhooks.hooks import create_endpoint, create_product, deliveries
from workers.maintenance import sweep_outbox
from workers.webhooks import deliver_webhook, sweep_deliveries


def verify(received, secret: str) -> stripe.Event:
    """What a handler written for Stripe does with the request."""
    return stripe.Webhook.construct_event(received.body.decode(), received.headers["Stripe-Signature"], secret)


async def test_an_event_arrives_as_stripe_json_signed_for_stripes_library(hook_api, receiver, run_worker):
    endpoint = await create_endpoint(hook_api, receiver.url(), ["product.created"])
    assert endpoint["secret"].startswith("whsec_") and endpoint["status"] == "ENABLED"
    product = await create_product(hook_api)
    before = int(time.time())
    await run_worker()
    [received] = receiver.received
    event = verify(received, endpoint["secret"])
    assert event.type == "product.created" and event.data.object.id == product
    body = json.loads(received.body)
    assert body["object"] == "event" and body["livemode"] is False and body["data"]["object"]["name"] == "Widget"
    stored = await Event.get(id=body["id"])
    assert body["data"] == stored.data and body["created"] == int(stored.created.timestamp())
    assert received.headers["Content-Type"].startswith("application/json")
    timestamp = int(received.headers["Stripe-Signature"].split(",")[0].removeprefix("t="))
    assert before - 1 <= timestamp <= time.time() + 1
    [delivery] = await deliveries(hook_api, endpoint["id"])
    assert delivery["succeeded"] and delivery["attempts"] == 1 and delivery["lastStatusCode"] == 200
    assert delivery["nextRetryAt"] is None and delivery["event"]["pendingWebhooks"] == 0
    assert [a["statusCode"] for a in delivery["attemptLog"]] == [200]
    node = await hook_api.ok("query($id: ID!) { node(id: $id) { id ... on WebhookDelivery { succeeded } } }",
                             {"id": delivery["id"]})
    assert node["node"] == {"id": delivery["id"], "succeeded": True}


async def test_a_wrong_secret_or_a_changed_body_fails_verification(hook_api, receiver, run_worker):
    endpoint = await create_endpoint(hook_api, receiver.url(), ["product.created"])
    await create_product(hook_api)
    await run_worker()
    [received] = receiver.received
    for body, secret in ((received.body, "whsec_other"), (received.body.replace(b"Widget", b"Gadget"),
                                                            endpoint["secret"])):
        try:
            stripe.Webhook.construct_event(body.decode(), received.headers["Stripe-Signature"], secret)
        except stripe.SignatureVerificationError:
            continue
        raise AssertionError("verified with the wrong secret or body")


async def test_events_of_a_test_clock_are_signed_with_the_wall_clock(hook_api, receiver, run_worker):
    endpoint = await create_endpoint(hook_api, receiver.url(), ["customer.created"])
    clock = await create_clock(hook_api)  # frozen months in the past
    customer = await create_customer(hook_api, clock)
    await run_worker()
    [received] = receiver.received
    event = verify(received, endpoint["secret"])  # the library refuses timestamps older than 5 minutes
    assert event.data.object.id == customer and event.data.object.test_clock == clock
    assert event.created < time.time() - 86400


async def test_only_subscribed_types_reach_an_endpoint(hook_api, receiver, run_worker):
    everything = await create_endpoint(hook_api, receiver.url("/all"), ["*"])
    products = await create_endpoint(hook_api, receiver.url("/products"), ["product.*"])
    customers = await create_endpoint(hook_api, receiver.url("/customers"), ["customer.created"])
    await create_product(hook_api)
    await create_customer(hook_api, None, card=None)
    await run_worker()
    types = {path: [json.loads(b)["type"] for b in receiver.bodies(path)] for path in ("/all", "/products",
                                                                                     "/customers")}
    assert types["/products"] == ["product.created"]
    assert types["/customers"] == ["customer.created"]
    assert {"product.created", "customer.created", "webhook_endpoint.created"} <= set(types["/all"])
    assert len(await deliveries(hook_api, everything["id"])) == len(types["/all"])
    assert len(await deliveries(hook_api, products["id"])) == 1
    assert len(await deliveries(hook_api, customers["id"])) == 1
    event = await Event.get(type="product.created")
    assert event.dispatched and event.pending_webhooks == 0


async def test_a_receiver_failing_twice_gets_the_event_once_successfully_after_three_attempts(
        hook_api, receiver, run_worker):
    receiver.script = [500, 503]
    endpoint = await create_endpoint(hook_api, receiver.url(), ["product.created"])
    await create_product(hook_api)
    await run_worker()
    assert len(receiver.received) == 3
    assert len({json.loads(b)["id"] for b in receiver.bodies()}) == 1  # the same event, three times
    [delivery] = await deliveries(hook_api, endpoint["id"])
    assert delivery["succeeded"] and delivery["attempts"] == 3 and delivery["nextRetryAt"] is None
    assert [a["statusCode"] for a in delivery["attemptLog"]] == [500, 503, 200]
    assert [a["error"] for a in delivery["attemptLog"]] == ["HTTP 500", "HTTP 503", None]
    times = [a["at"] for a in delivery["attemptLog"]]
    assert times == sorted(times)
    assert delivery["event"]["pendingWebhooks"] == 0


async def test_the_log_shows_the_next_retry_while_failing(hook_api, receiver, queue, worker_env):
    worker_env.setenv("BILLING_WEBHOOK_FIRST_RETRY_SECONDS", "3600")
    receiver.script = [500]
    endpoint = await create_endpoint(hook_api, receiver.url(), ["product.created"])
    await create_product(hook_api)
    [delivery] = await WebhookDelivery.filter(endpoint_id=endpoint["id"])
    assert await deliver_webhook({"redis": queue}, delivery.id) == "failed: HTTP 500"
    [logged] = await deliveries(hook_api, endpoint["id"])
    assert not logged["succeeded"] and logged["status"] == "pending" and logged["attempts"] == 1
    retry_at = datetime.fromisoformat(logged["nextRetryAt"])
    tried_at = datetime.fromisoformat(logged["attemptLog"][0]["at"])
    assert retry_at - tried_at == timedelta(hours=1)
    assert logged["event"]["pendingWebhooks"] == 1
    # the retry is queued under its own job id, deferred to the retry time
    job = await queue.zscore("arq:queue", delivery_job_id(delivery.id, 1))
    assert job is not None and abs(job / 1000 - retry_at.timestamp()) < 1
    # not due yet: running it early does nothing
    assert await deliver_webhook({"redis": queue}, delivery.id) == "not due"
    assert len(receiver.received) == 1


async def test_retries_double_up_to_the_cap_and_stop_after_the_window():
    policy = WebhookSettings(first_retry_seconds=60, max_retry_seconds=12 * 3600, retry_hours=72)
    delays = [retry_delay(n, policy).total_seconds() for n in range(1, 14)]
    assert delays[:4] == [60, 120, 240, 480] and delays[-1] == 12 * 3600 and max(delays) == 12 * 3600


async def test_a_delivery_gives_up_when_the_retry_window_ends(hook_api, receiver, run_worker, worker_env):
    worker_env.setenv("BILLING_WEBHOOK_RETRY_HOURS", "0.0002")  # under a second: the first retry is past it
    receiver.script = [500, 500, 500]
    endpoint = await create_endpoint(hook_api, receiver.url(), ["product.created"])
    await create_product(hook_api)
    await run_worker()
    [delivery] = await deliveries(hook_api, endpoint["id"])
    assert delivery["status"] == "failed" and not delivery["succeeded"] and delivery["nextRetryAt"] is None
    assert delivery["attempts"] == len(receiver.received) and delivery["lastStatusCode"] == 500
    assert delivery["event"]["pendingWebhooks"] == 0


async def test_redirects_are_not_followed(hook_api, receiver, run_worker, worker_env):
    worker_env.setenv("BILLING_WEBHOOK_RETRY_HOURS", "0")

    async def redirect(request):
        raise web.HTTPFound(receiver.url("/elsewhere"))

    receiver.script = [redirect]
    endpoint = await create_endpoint(hook_api, receiver.url(), ["product.created"])
    await create_product(hook_api)
    await run_worker()
    assert [r.path for r in receiver.received] == ["/hook"]
    [delivery] = await deliveries(hook_api, endpoint["id"])
    assert not delivery["succeeded"] and delivery["lastStatusCode"] == 302
    assert "redirects are not followed" in delivery["lastError"]


async def test_a_receiver_slower_than_the_timeout_fails_the_attempt(hook_api, receiver, run_worker, worker_env):
    worker_env.setenv("BILLING_WEBHOOK_TIMEOUT_SECONDS", "0.5")

    async def slow(request):
        await asyncio.sleep(3)
        return web.Response(text="late")

    receiver.script = [slow]
    endpoint = await create_endpoint(hook_api, receiver.url(), ["product.created"])
    await create_product(hook_api)
    await run_worker()
    [delivery] = await deliveries(hook_api, endpoint["id"])
    first, second = delivery["attemptLog"]
    assert first["statusCode"] is None and first["error"] == "timed out after 0.5 s"
    assert 400 <= first["durationMs"] < 2000
    assert second["statusCode"] == 200 and delivery["succeeded"]


async def test_the_sweep_delivers_an_event_whose_dispatch_was_lost(hook_api, receiver, run_worker, queue):
    endpoint = await create_endpoint(hook_api, receiver.url(), ["product.created"])
    await run_worker()
    receiver.received.clear()
    async with atomic():  # committed, but the process died before dispatching it
        await record("product.created", {"id": "prod_lost", "object": "product"},
                     created=utcnow() - timedelta(minutes=1))
    assert await sweep_outbox({"redis": queue}) == 1
    await run_worker()
    [received] = receiver.received
    assert verify(received, endpoint["secret"]).data.object.id == "prod_lost"
    assert await sweep_outbox({"redis": queue}) == 0


async def test_the_sweep_finds_a_lost_event_of_a_test_clock_set_in_the_future(hook_api, receiver, run_worker,
                                                                             queue):
    endpoint = await create_endpoint(hook_api, receiver.url(), ["product.created"])
    await run_worker()
    receiver.received.clear()
    lost = await Event.create(id=made_before("evt", 60) + "lost", type="product.created", data={"object": {
        "id": "prod_future", "object": "product"}}, created=utcnow() + timedelta(days=400))
    recent = await Event.create(id=new_id("evt"), type="product.created", data={"object": {
        "id": "prod_recent", "object": "product"}}, created=utcnow() + timedelta(days=400))
    assert await sweep_outbox({"redis": queue}) == 1  # the recent one may still be dispatched by its process
    await run_worker()
    [received] = receiver.received
    assert verify(received, endpoint["secret"]).data.object.id == "prod_future"
    assert (await Event.get(id=lost.id)).dispatched and not (await Event.get(id=recent.id)).dispatched


async def test_the_sweep_requeues_a_delivery_whose_job_was_lost(hook_api, receiver, run_worker, queue):
    endpoint = await create_endpoint(hook_api, receiver.url(), ["product.created"])
    await run_worker()
    receiver.received.clear()
    async with atomic() as uow:
        await record("product.created", {"id": "prod_lost", "object": "product"})
    [delivery_id] = await plan_deliveries(uow.events)  # planned; the enqueue never happened
    assert await sweep_deliveries({"redis": queue}) == 0  # not overdue yet
    await WebhookDelivery.filter(id=delivery_id).update(next_attempt_at=wall_clock() - timedelta(minutes=1))
    assert await sweep_deliveries({"redis": queue}) == 1
    await run_worker()
    [received] = receiver.received
    assert verify(received, endpoint["secret"]).data.object.id == "prod_lost"
    assert await sweep_deliveries({"redis": queue}) == 0


async def test_an_event_is_planned_once_whoever_dispatches_it(hook_api, receiver):
    await create_endpoint(hook_api, receiver.url(), ["product.created"])
    async with atomic() as uow:
        await record("product.created", {"id": "prod_x", "object": "product"})
    ids = [e.id for e in uow.events]
    first, second = await plan_deliveries(uow.events), await plan_deliveries(uow.events)
    assert len(first) == 1 and second == []
    assert (await Event.get(id=ids[0])).pending_webhooks == 1
