"""End to end on a test clock with a real worker: subscribing, and the renewal the clock's advance runs, reach
the product's backend as verified Stripe webhooks, each event once."""
import json
import time
from collections import Counter

import stripe

from tests.billing_flows import START, advance, create_clock, create_customer, create_price, subscribe
from tests.webhooks.hooks import create_endpoint, deliveries

WANTED = ["customer.subscription.created", "customer.subscription.updated", "invoice.paid", "invoice.created",
          "invoice.finalized"]


async def test_subscribe_and_renew_on_a_test_clock_reach_the_webhook(hook_api, receiver, run_worker):
    endpoint = await create_endpoint(hook_api, receiver.url(), WANTED)
    clock = await create_clock(hook_api)
    customer = await create_customer(hook_api, clock)
    price = await create_price(hook_api)
    sub = await subscribe(hook_api, customer, price)
    await run_worker()
    events = [stripe.Webhook.construct_event(r.body.decode(), r.headers["Stripe-Signature"], endpoint["secret"])
              for r in receiver.received]
    created = [e for e in events if e.type == "customer.subscription.created"]
    assert len(created) == 1 and created[0].data.object.id == sub["id"]
    assert created[0].data.object.customer == customer and created[0].data.object.status == "active"
    paid = [e for e in events if e.type == "invoice.paid"]
    assert [e.data.object.id for e in paid] == [sub["latestInvoice"]["id"]]
    assert {e.type for e in events} <= set(WANTED)

    receiver.received.clear()
    await advance(hook_api, run_worker, clock, START.replace(month=3, day=1))  # past the first renewal
    await run_worker()
    renewal = [json.loads(r.body) for r in receiver.received]
    types = Counter(e["type"] for e in renewal)
    assert types["invoice.created"] == 1 and types["invoice.paid"] == 1, types
    invoice = next(e for e in renewal if e["type"] == "invoice.paid")["data"]["object"]
    assert invoice["subscription"] == sub["id"] and invoice["billing_reason"] == "subscription_cycle"
    for r in receiver.received:  # signed with the wall clock, not the clock's frozen time
        t = int(r.headers["Stripe-Signature"].split(",")[0][2:])
        assert abs(t - time.time()) < 60
    logged = await deliveries(hook_api, endpoint["id"])
    assert all(d["succeeded"] and d["attempts"] == 1 for d in logged)
    assert len({d["event"]["id"] for d in logged}) == len(logged) == len(events) + len(renewal)
