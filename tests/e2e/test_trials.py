"""Trials through HTTP with a real worker: a 0 invoice at creation, trial_will_end exactly 3 days before
the end, and the first paid period at the trial's end."""
from datetime import UTC, datetime, timedelta

from tests.billing_flows import (
    START,
    advance,
    create_clock,
    create_customer,
    create_price,
    invoices_of,
    subscribe,
    subscription,
)


async def events_of(api, object_id: str, type: str) -> list[dict]:
    data = await api.ok("query($type: String) { events(first: 100, type: $type) { nodes { type created data } } }",
                        {"type": type})
    return [e for e in reversed(data["events"]["nodes"]) if e["data"]["object"].get("id") == object_id]


async def test_a_trial_bills_zero_then_charges_at_its_end(api, run_worker):
    clock = await create_clock(api)  # 2026-01-31 12:00
    price = await create_price(api, 2000)
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, price, quantity=2, trialPeriodDays=14)
    trial_end = START + timedelta(days=14)
    assert sub["status"] == "TRIALING"
    assert (sub["trialStart"], sub["trialEnd"]) == (START.isoformat(), trial_end.isoformat())
    assert (sub["currentPeriodStart"], sub["currentPeriodEnd"]) == (START.isoformat(), trial_end.isoformat())
    first = sub["latestInvoice"]
    assert (first["status"], first["total"], first["amountPaid"], first["billingReason"]) == (
        "PAID", 0, 0, "SUBSCRIPTION_CREATE")
    [line] = first["lines"]["nodes"]
    assert (line["amount"], line["quantity"], line["description"]) == (0, 2, "2 × Pro (Trial period)")
    assert (line["period"]["start"], line["period"]["end"]) == (START.isoformat(), trial_end.isoformat())
    intent = await api.ok("query($id: ID!) { invoice(id: $id) { paymentIntent { id } attemptCount } }",
                          {"id": first["id"]})
    assert intent["invoice"] == {"paymentIntent": None, "attemptCount": 0}  # nothing to charge

    notice = trial_end - timedelta(days=3)
    await advance(api, run_worker, clock, notice - timedelta(seconds=1))
    assert await events_of(api, sub["id"], "customer.subscription.trial_will_end") == []
    await advance(api, run_worker, clock, notice)
    [will_end] = await events_of(api, sub["id"], "customer.subscription.trial_will_end")
    assert will_end["created"] == notice.isoformat()
    assert will_end["data"]["object"]["trial_end"] == int(trial_end.timestamp())
    await advance(api, run_worker, clock, trial_end - timedelta(seconds=1))
    assert (await subscription(api, sub["id"]))["status"] == "TRIALING"

    await advance(api, run_worker, clock, trial_end)
    state = await subscription(api, sub["id"])
    assert state["status"] == "ACTIVE"
    assert (state["billingCycleAnchor"], state["currentPeriodStart"], state["currentPeriodEnd"]) == (
        trial_end.isoformat(), trial_end.isoformat(), "2026-03-14T12:00:00+00:00")
    draft = state["latestInvoice"]
    assert (draft["status"], draft["billingReason"], draft["total"]) == ("DRAFT", "SUBSCRIPTION_CYCLE", 4000)
    await advance(api, run_worker, clock, trial_end + timedelta(hours=1))
    invoices = await invoices_of(api, sub["id"])
    assert [(i["status"], i["total"], i["amountPaid"]) for i in invoices] == [("PAID", 0, 0), ("PAID", 4000, 4000)]
    [line] = invoices[1]["lines"]["nodes"]
    assert (line["period"]["start"], line["period"]["end"]) == (trial_end.isoformat(), "2026-03-14T12:00:00+00:00")
    [ended] = await events_of(api, sub["id"], "customer.subscription.updated")
    assert ended["created"] == trial_end.isoformat()
    assert ended["data"]["previous_attributes"]["status"] == "trialing"
    await advance(api, run_worker, clock, datetime(2026, 3, 15, tzinfo=UTC))
    assert [i["total"] for i in await invoices_of(api, sub["id"])] == [0, 4000, 4000]
    assert len(await events_of(api, sub["id"], "customer.subscription.trial_will_end")) == 1


async def test_trial_end_as_a_date(api, run_worker):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    sub = await subscribe(api, await create_customer(api, clock), price, trialEnd="2026-02-10T00:00:00Z")
    assert (sub["status"], sub["trialEnd"], sub["currentPeriodEnd"]) == (
        "TRIALING", "2026-02-10T00:00:00+00:00", "2026-02-10T00:00:00+00:00")
    await advance(api, run_worker, clock, datetime(2026, 2, 10, 1, tzinfo=UTC))
    state = await subscription(api, sub["id"])
    assert (state["status"], state["currentPeriodEnd"]) == ("ACTIVE", "2026-03-10T00:00:00+00:00")
    assert (state["latestInvoice"]["status"], state["latestInvoice"]["total"]) == ("PAID", 2000)


async def test_a_trial_shorter_than_three_days_notifies_at_once(api, run_worker):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    sub = await subscribe(api, await create_customer(api, clock), price, trialPeriodDays=2)
    await advance(api, run_worker, clock, START + timedelta(hours=1))
    [will_end] = await events_of(api, sub["id"], "customer.subscription.trial_will_end")
    assert will_end["created"] == START.isoformat()  # never before the subscription existed


async def test_a_trial_ending_on_a_declining_card_makes_it_past_due(api, run_worker):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    sub = await subscribe(api, await create_customer(api, clock, card="pm_card_chargeCustomerFail"), price,
                          trialPeriodDays=7)
    assert sub["status"] == "TRIALING"  # nothing is charged during the trial
    await advance(api, run_worker, clock, START + timedelta(days=7, hours=1))
    state = await subscription(api, sub["id"])
    assert state["status"] == "PAST_DUE"
    assert (state["latestInvoice"]["status"], state["latestInvoice"]["attemptCount"]) == ("OPEN", 1)
    assert state["latestInvoice"]["nextPaymentAttempt"] == (START + timedelta(days=10, hours=1)).isoformat()


async def test_a_trial_with_a_later_billing_cycle_anchor_prorates_up_to_the_anchor(api, run_worker):
    clock = await create_clock(api)  # trial Jan 31 12:00 -> Feb 7 12:00, then anchored on Mar 1
    price = await create_price(api, 2800)
    sub = await subscribe(api, await create_customer(api, clock), price, trialPeriodDays=7,
                          billingCycleAnchor="2026-03-01T00:00:00Z")
    assert (sub["status"], sub["currentPeriodEnd"], sub["billingCycleAnchor"]) == (
        "TRIALING", "2026-02-07T12:00:00+00:00", "2026-03-01T00:00:00+00:00")
    await advance(api, run_worker, clock, datetime(2026, 2, 7, 13, tzinfo=UTC))
    state = await subscription(api, sub["id"])
    assert (state["status"], state["billingCycleAnchor"], state["currentPeriodEnd"]) == (
        "ACTIVE", "2026-03-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00")
    # Feb 7 12:00 -> Mar 1 00:00 is 21.5 of February's 28 days: 2800 x 21.5 / 28 = 2150.
    after_trial = state["latestInvoice"]
    assert (after_trial["status"], after_trial["total"]) == ("PAID", 2150)
    assert after_trial["lines"]["nodes"][0]["proration"] is True
    await advance(api, run_worker, clock, datetime(2026, 3, 2, tzinfo=UTC))
    assert [i["total"] for i in await invoices_of(api, sub["id"])] == [0, 2150, 2800]
