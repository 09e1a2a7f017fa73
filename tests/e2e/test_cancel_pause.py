"""Ending and pausing subscriptions through HTTP with a real worker: cancel at period end, cancelAt, cancel
now (invoiceNow / prorate), deleting the customer, pauseSubscription / resumeSubscription, and
pauseCollection."""
from datetime import UTC, datetime, timedelta

from tests.billing_flows import (
    START,
    SUBSCRIPTION_FIELDS,
    advance,
    create_clock,
    create_customer,
    create_price,
    invoices_of,
    subscribe,
    subscription,
)

CANCEL = f"""mutation($id: ID!, $input: CancelSubscriptionInput) {{ cancelSubscription(id: $id, input: $input) {{
  {SUBSCRIPTION_FIELDS} }} }}"""
UPDATE = "mutation($id: ID!, $input: UpdateSubscriptionInput!) { updateSubscription(id: $id, input: $input) { id } }"
PAUSE = "mutation($id: ID!) { pauseSubscription(id: $id) { status } }"
RESUME = f"""mutation($id: ID!, $input: ResumeSubscriptionInput) {{ resumeSubscription(id: $id, input: $input) {{
  {SUBSCRIPTION_FIELDS} }} }}"""
FEB_28 = datetime(2026, 2, 28, 12, tzinfo=UTC)  # the first renewal of a subscription started at START (Jan 31)


async def events_of(api, object_id: str, type: str) -> list[dict]:
    data = await api.ok("query($type: String) { events(first: 100, type: $type) { nodes { type created data } } }",
                        {"type": type})
    return [e for e in reversed(data["events"]["nodes"]) if e["data"]["object"].get("id") == object_id]


async def monthly(api, amount: int = 2000, **extra) -> tuple[str, str, dict]:
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    return clock, customer, await subscribe(api, customer, await create_price(api, amount), **extra)


async def charges_of(api, customer: str) -> list[int]:
    """The amounts received from the customer, by payment intent."""
    data = await api.ok("query($c: ID!) { customer(id: $c) { invoices(first: 100) { nodes { paymentIntent { "
                        "amountReceived } } } } }", {"c": customer})
    return sorted(n["paymentIntent"]["amountReceived"] for n in data["customer"]["invoices"]["nodes"]
                  if n["paymentIntent"])


# ---------------------------------------------------------------- cancel

async def test_cancel_at_period_end_ends_it_on_time_without_a_renewal_invoice(api, run_worker):
    clock, _, sub = await monthly(api, cancelAtPeriodEnd=True)
    assert (sub["status"], sub["cancelAtPeriodEnd"]) == ("ACTIVE", True)
    await advance(api, run_worker, clock, FEB_28 - timedelta(seconds=1))
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"
    await advance(api, run_worker, clock, FEB_28 + timedelta(days=2))
    state = await subscription(api, sub["id"])
    assert (state["status"], state["endedAt"]) == ("CANCELED", FEB_28.isoformat())
    assert len(await invoices_of(api, sub["id"])) == 1
    [deleted] = await events_of(api, sub["id"], "customer.subscription.deleted")
    assert deleted["created"] == FEB_28.isoformat()


async def test_undoing_cancel_at_period_end_keeps_it_renewing(api, run_worker):
    clock, _, sub = await monthly(api)
    await api.ok(UPDATE, {"id": sub["id"], "input": {"cancelAtPeriodEnd": True}})
    await api.ok(UPDATE, {"id": sub["id"], "input": {"cancelAtPeriodEnd": False}})
    await advance(api, run_worker, clock, FEB_28 + timedelta(hours=1))
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"
    assert [i["status"] for i in await invoices_of(api, sub["id"])] == ["PAID", "PAID"]


async def test_cancel_at_ends_it_at_that_instant(api, run_worker):
    cancel_at = datetime(2026, 3, 15, 12, tzinfo=UTC)
    clock, _, sub = await monthly(api, cancelAt=cancel_at.isoformat())
    assert sub["cancelAt"] == cancel_at.isoformat()
    await advance(api, run_worker, clock, cancel_at - timedelta(seconds=1))
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"
    await advance(api, run_worker, clock, datetime(2026, 4, 15, tzinfo=UTC))
    state = await subscription(api, sub["id"])
    assert (state["status"], state["endedAt"], state["canceledAt"]) == ("CANCELED", cancel_at.isoformat(),
                                                                       cancel_at.isoformat())
    assert [i["billingReason"] for i in await invoices_of(api, sub["id"])] == ["SUBSCRIPTION_CREATE",
                                                                              "SUBSCRIPTION_CYCLE"]


async def test_cancel_now(api, run_worker):
    clock, customer, sub = await monthly(api)
    await advance(api, run_worker, clock, START + timedelta(days=14))
    canceled = (await api.ok(CANCEL, {"id": sub["id"]}))["cancelSubscription"]
    now = (START + timedelta(days=14)).isoformat()
    assert (canceled["status"], canceled["canceledAt"], canceled["endedAt"]) == ("CANCELED", now, now)
    assert len(await invoices_of(api, sub["id"])) == 1
    pending = await api.ok("query($c: ID!) { invoiceItems(customer: $c, pending: true) { nodes { id } } }",
                           {"c": customer})
    assert pending["invoiceItems"]["nodes"] == []  # no proration unless asked
    [deleted] = await events_of(api, sub["id"], "customer.subscription.deleted")
    assert deleted["data"]["object"]["status"] == "canceled"
    error = await api.error(CANCEL, {"id": sub["id"]})
    assert error["extensions"] == {"code": "parameter_invalid", "type": "invalid_request_error", "param": "id"}
    error = await api.error(PAUSE, {"id": sub["id"]})
    assert error["extensions"]["param"] == "id"
    await advance(api, run_worker, clock, datetime(2026, 4, 1, tzinfo=UTC))
    assert len(await invoices_of(api, sub["id"])) == 1


async def test_cancel_now_with_proration_and_invoice_now_credits_the_unused_time(api, run_worker):
    clock, customer, sub = await monthly(api, 2800)  # Jan 31 12:00 -> Feb 28 12:00: 28 days
    await advance(api, run_worker, clock, START + timedelta(days=7))
    canceled = (await api.ok(CANCEL, {"id": sub["id"], "input": {"invoiceNow": True, "prorate": True}}))[
        "cancelSubscription"]
    assert canceled["status"] == "CANCELED"
    final = canceled["latestInvoice"]
    assert final["id"] != sub["latestInvoice"]["id"]
    [line] = final["lines"]["nodes"]
    assert (line["amount"], line["proration"]) == (-2100, True)  # 21 unused days of 28
    assert (final["status"], final["total"], final["amountDue"], final["endingBalance"]) == ("PAID", -2100, 0, -2100)
    balance = await api.ok("query($c: ID!) { customer(id: $c) { balance } }", {"c": customer})
    assert balance["customer"]["balance"] == -2100


async def test_cancel_now_with_proration_only_leaves_a_pending_credit(api, run_worker):
    clock, customer, sub = await monthly(api, 2800)
    await advance(api, run_worker, clock, START + timedelta(days=21))
    canceled = (await api.ok(CANCEL, {"id": sub["id"], "input": {"prorate": True}}))["cancelSubscription"]
    assert canceled["latestInvoice"]["id"] == sub["latestInvoice"]["id"]
    pending = await api.ok("query($c: ID!) { invoiceItems(customer: $c, pending: true) { nodes { amount proration "
                           "} } }", {"c": customer})
    assert pending["invoiceItems"]["nodes"] == [{"amount": -700, "proration": True}]


async def test_deleting_the_customer_cancels_its_subscriptions(api, run_worker):
    clock, customer, sub = await monthly(api)
    other = await subscribe(api, customer, await create_price(api, 500, name="Extra"), trialPeriodDays=30)
    await advance(api, run_worker, clock, START + timedelta(days=3))
    await api.ok("mutation($c: ID!) { deleteCustomer(id: $c) { id deleted } }", {"c": customer})
    now = (START + timedelta(days=3)).isoformat()
    for id in (sub["id"], other["id"]):
        state = await subscription(api, id)
        assert (state["status"], state["endedAt"]) == ("CANCELED", now)
        assert len(await events_of(api, id, "customer.subscription.deleted")) == 1
    await advance(api, run_worker, clock, datetime(2026, 4, 1, tzinfo=UTC))
    assert len(await invoices_of(api, sub["id"])) == 1 and len(await invoices_of(api, other["id"])) == 1


# ---------------------------------------------------------------- pause and resume

async def test_a_paused_subscription_makes_no_invoices_and_no_charges(api, run_worker):
    clock, customer, sub = await monthly(api)
    await advance(api, run_worker, clock, START + timedelta(days=10))
    paused = (await api.ok(PAUSE, {"id": sub["id"]}))["pauseSubscription"]
    assert paused["status"] == "PAUSED"
    [event] = await events_of(api, sub["id"], "customer.subscription.paused")
    assert event["created"] == (START + timedelta(days=10)).isoformat()
    await advance(api, run_worker, clock, datetime(2026, 4, 1, tzinfo=UTC))  # across Feb 28 and Mar 31
    await advance(api, run_worker, clock, datetime(2026, 5, 10, tzinfo=UTC))  # and Apr 30
    state = await subscription(api, sub["id"])
    assert state["status"] == "PAUSED"
    assert len(await invoices_of(api, sub["id"])) == 1
    assert await charges_of(api, customer) == [2000]
    error = await api.error(PAUSE, {"id": sub["id"]})
    assert error["extensions"]["param"] == "id"


async def test_pausing_stops_the_charge_of_a_pending_renewal(api, run_worker):
    clock, customer, sub = await monthly(api)
    await advance(api, run_worker, clock, FEB_28 + timedelta(minutes=30))  # the renewal is a draft
    await api.ok(PAUSE, {"id": sub["id"]})
    await advance(api, run_worker, clock, FEB_28 + timedelta(hours=2))
    renewal = (await invoices_of(api, sub["id"]))[-1]
    assert (renewal["status"], renewal["attemptCount"], renewal["nextPaymentAttempt"]) == ("OPEN", 0, None)
    assert await charges_of(api, customer) == [2000]


async def test_pausing_a_past_due_subscription_stops_its_retries(api, run_worker):
    clock, customer, sub = await monthly(api)
    card = await api.ok("mutation($c: ID!) { attachPaymentMethod(customer: $c, paymentMethod: "
                        "\"pm_card_chargeCustomerFail\") { id } }", {"c": customer})
    await api.ok("mutation($c: ID!, $pm: ID!) { updateCustomer(id: $c, input: {defaultPaymentMethod: $pm}) { id } }",
                 {"c": customer, "pm": card["attachPaymentMethod"]["id"]})
    await advance(api, run_worker, clock, FEB_28 + timedelta(hours=1))
    assert (await subscription(api, sub["id"]))["status"] == "PAST_DUE"
    await api.ok(PAUSE, {"id": sub["id"]})
    await advance(api, run_worker, clock, datetime(2026, 3, 20, tzinfo=UTC))
    renewal = (await invoices_of(api, sub["id"]))[-1]
    assert (renewal["status"], renewal["attemptCount"], renewal["nextPaymentAttempt"]) == ("OPEN", 1, None)
    assert (await subscription(api, sub["id"]))["status"] == "PAUSED"
    status, body = await api.post("mutation($id: ID!) { payInvoice(id: $id) { status } }", {"id": renewal["id"]})
    assert body["errors"][0]["extensions"]["type"] == "card_error"
    assert (await subscription(api, sub["id"]))["status"] == "PAUSED"  # a declined payment by hand changes nothing


async def test_resume_now_starts_a_new_period_invoiced_at_once(api, run_worker):
    clock, customer, sub = await monthly(api)
    await api.ok(PAUSE, {"id": sub["id"]})
    resume_at = datetime(2026, 3, 10, 8, tzinfo=UTC)
    await advance(api, run_worker, clock, resume_at)
    resumed = (await api.ok(RESUME, {"id": sub["id"], "input": {"billingCycleAnchor": "NOW"}}))["resumeSubscription"]
    assert resumed["status"] == "ACTIVE"
    assert (resumed["billingCycleAnchor"], resumed["currentPeriodStart"], resumed["currentPeriodEnd"]) == (
        resume_at.isoformat(), resume_at.isoformat(), "2026-04-10T08:00:00+00:00")
    invoice = resumed["latestInvoice"]
    assert (invoice["status"], invoice["total"]) == ("PAID", 2000)
    [line] = invoice["lines"]["nodes"]
    assert (line["period"]["start"], line["period"]["end"]) == (resume_at.isoformat(), "2026-04-10T08:00:00+00:00")
    [event] = await events_of(api, sub["id"], "customer.subscription.resumed")
    assert (event["created"], event["data"]["object"]["status"]) == (resume_at.isoformat(), "active")
    await advance(api, run_worker, clock, datetime(2026, 4, 11, tzinfo=UTC))
    invoices = await invoices_of(api, sub["id"])
    assert [(i["total"], i["status"]) for i in invoices] == [(2000, "PAID")] * 3
    assert invoices[-1]["periodEnd"] == "2026-04-10T08:00:00+00:00"
    assert await charges_of(api, customer) == [2000, 2000, 2000]
    error = await api.error(RESUME, {"id": sub["id"]})
    assert error["extensions"]["param"] == "id"


async def test_resume_unchanged_keeps_the_cycle_and_prorates_the_rest_of_the_period(api, run_worker):
    clock, customer, sub = await monthly(api, 3100)
    await api.ok(PAUSE, {"id": sub["id"]})
    resume_at = datetime(2026, 3, 21, 12, tzinfo=UTC)  # 10 of March's 31 days left (period Feb 28 -> Mar 31)
    await advance(api, run_worker, clock, resume_at)
    resumed = (await api.ok(RESUME, {"id": sub["id"], "input": {"billingCycleAnchor": "UNCHANGED"}}))[
        "resumeSubscription"]
    assert (resumed["status"], resumed["billingCycleAnchor"], resumed["currentPeriodEnd"]) == (
        "ACTIVE", START.isoformat(), "2026-03-31T12:00:00+00:00")
    assert resumed["latestInvoice"]["id"] == sub["latestInvoice"]["id"]  # nothing invoiced now
    pending = await api.ok("query($c: ID!) { invoiceItems(customer: $c, pending: true) { nodes { amount proration "
                           "} } }", {"c": customer})
    assert pending["invoiceItems"]["nodes"] == [{"amount": 1000, "proration": True}]
    await advance(api, run_worker, clock, datetime(2026, 3, 31, 13, tzinfo=UTC))
    renewal = (await invoices_of(api, sub["id"]))[-1]
    assert (renewal["status"], renewal["total"]) == ("PAID", 4100)  # the next period plus the rest of this one
    assert sorted(line["amount"] for line in renewal["lines"]["nodes"]) == [1000, 3100]


async def test_resume_unchanged_always_invoice_and_none(api, run_worker):
    clock, customer, sub = await monthly(api, 3100)
    await api.ok(PAUSE, {"id": sub["id"]})
    await advance(api, run_worker, clock, datetime(2026, 3, 21, 12, tzinfo=UTC))
    resumed = (await api.ok(RESUME, {"id": sub["id"], "input": {"billingCycleAnchor": "UNCHANGED",
                                                               "prorationBehavior": "ALWAYS_INVOICE"}}))[
        "resumeSubscription"]
    assert (resumed["latestInvoice"]["total"], resumed["latestInvoice"]["status"]) == (1000, "PAID")

    customer = await create_customer(api, clock)
    other = await subscribe(api, customer, await create_price(api, 3100))  # Mar 21 12:00 -> Apr 21 12:00
    await api.ok(PAUSE, {"id": other["id"]})
    await advance(api, run_worker, clock, datetime(2026, 4, 1, 12, tzinfo=UTC))
    resumed = (await api.ok(RESUME, {"id": other["id"], "input": {"billingCycleAnchor": "UNCHANGED",
                                                                  "prorationBehavior": "NONE"}}))[
        "resumeSubscription"]
    assert resumed["latestInvoice"]["id"] == other["latestInvoice"]["id"]
    pending = await api.ok("query($c: ID!) { invoiceItems(customer: $c, pending: true) { nodes { amount } } }",
                           {"c": customer})
    assert pending["invoiceItems"]["nodes"] == []


# ---------------------------------------------------------------- pause collection

async def test_pause_collection_keep_as_draft(api, run_worker):
    clock, customer, sub = await monthly(api)
    await api.ok(UPDATE, {"id": sub["id"], "input": {"pauseCollection": {"behavior": "KEEP_AS_DRAFT"}}})
    await advance(api, run_worker, clock, datetime(2026, 3, 31, 12, tzinfo=UTC))
    await advance(api, run_worker, clock, datetime(2026, 4, 2, tzinfo=UTC))
    state = await subscription(api, sub["id"])
    assert state["status"] == "ACTIVE"
    assert state["pauseCollection"] == {"behavior": "KEEP_AS_DRAFT", "resumesAt": None}
    invoices = await invoices_of(api, sub["id"])
    assert [(i["status"], i["autoAdvance"]) for i in invoices] == [("PAID", True), ("DRAFT", False),
                                                                   ("DRAFT", False)]
    assert await charges_of(api, customer) == [2000]


async def test_pause_collection_mark_uncollectible_and_void(api, run_worker):
    for behavior, status in (("MARK_UNCOLLECTIBLE", "UNCOLLECTIBLE"), ("VOID", "VOID")):
        clock, customer, sub = await monthly(api)
        await api.ok(UPDATE, {"id": sub["id"], "input": {"pauseCollection": {"behavior": behavior}}})
        await advance(api, run_worker, clock, FEB_28 + timedelta(hours=1))
        renewal = (await invoices_of(api, sub["id"]))[-1]
        assert (renewal["status"], renewal["attemptCount"]) == (status, 0), behavior
        assert renewal["number"] is not None
        assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"
        assert await charges_of(api, customer) == [2000]


async def test_pause_collection_resumes_at_its_date(api, run_worker):
    clock, customer, sub = await monthly(api)
    resumes_at = datetime(2026, 3, 15, tzinfo=UTC)
    await api.ok(UPDATE, {"id": sub["id"], "input": {"pauseCollection": {"behavior": "VOID",
                                                                         "resumesAt": resumes_at.isoformat()}}})
    assert (await subscription(api, sub["id"]))["pauseCollection"] == {"behavior": "VOID",
                                                                       "resumesAt": resumes_at.isoformat()}
    await advance(api, run_worker, clock, datetime(2026, 3, 31, 12, tzinfo=UTC))
    await advance(api, run_worker, clock, datetime(2026, 3, 31, 13, tzinfo=UTC))
    state = await subscription(api, sub["id"])
    assert state["pauseCollection"] is None
    assert [i["status"] for i in await invoices_of(api, sub["id"])] == ["PAID", "VOID", "PAID"]
    updates = await events_of(api, sub["id"], "customer.subscription.updated")
    assert resumes_at.isoformat() in [e["created"] for e in updates]
    assert await charges_of(api, customer) == [2000, 2000]
