"""updateInvoice autoAdvance through HTTP: canceling a subscription stops the automatic collection of its
invoices (auto_advance off, as Stripe); turning auto_advance back on resumes it: an open invoice is charged
again by the worker, a draft finalizes and is charged."""
from datetime import UTC, datetime, timedelta

from tests.billing_flows import START, advance, create_clock, create_customer, create_price, invoices_of, subscribe
from tests.e2e.test_payment_failures import _past_due, events_of, invoice, switch_default_card

UPDATE = """mutation($id: ID!, $on: Boolean!) { updateInvoice(id: $id, input: {autoAdvance: $on}) {
  status autoAdvance nextPaymentAttempt } }"""
CANCEL = "mutation($id: ID!) { cancelSubscription(id: $id) { status } }"
RENEWAL = datetime(2026, 2, 28, 12, tzinfo=UTC)


async def auto_advance(api, id: str, on: bool) -> dict:
    return (await api.ok(UPDATE, {"id": id, "on": on}))["updateInvoice"]


async def test_auto_advance_on_again_charges_an_invoice_whose_collection_stopped(api, run_worker):
    clock, customer, sub = await _past_due(api, run_worker)  # the renewal was declined at Feb 28 13:00
    renewal = (await invoices_of(api, sub["id"]))[-1]["id"]
    await api.ok(CANCEL, {"id": sub["id"]})
    stopped = await api.ok("query($id: ID!) { invoice(id: $id) { status autoAdvance nextPaymentAttempt } }",
                           {"id": renewal})
    assert stopped["invoice"] == {"status": "OPEN", "autoAdvance": False, "nextPaymentAttempt": None}
    await advance(api, run_worker, clock, datetime(2026, 3, 5, tzinfo=UTC))  # the retry of Mar 3 is not made
    assert (await invoice(api, renewal))["attemptCount"] == 1

    await switch_default_card(api, customer, "pm_card_visa")
    resumed = await auto_advance(api, renewal, True)
    assert resumed == {"status": "OPEN", "autoAdvance": True,
                       "nextPaymentAttempt": datetime(2026, 3, 5, tzinfo=UTC).isoformat()}
    await advance(api, run_worker, clock, datetime(2026, 3, 5, 0, 1, tzinfo=UTC))
    paid = await invoice(api, renewal)
    assert (paid["status"], paid["attemptCount"], paid["nextPaymentAttempt"]) == ("PAID", 2, None)
    assert paid["statusTransitions"]["paidAt"] == datetime(2026, 3, 5, tzinfo=UTC).isoformat()
    assert len(await events_of(api, renewal, "invoice.paid")) == 1


async def test_auto_advance_on_again_finalizes_and_charges_a_draft(api, run_worker):
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, await create_price(api, 2000))
    await advance(api, run_worker, clock, RENEWAL + timedelta(minutes=30))  # the renewal is a draft
    await api.ok(CANCEL, {"id": sub["id"]})
    draft = (await invoices_of(api, sub["id"]))[-1]
    assert (draft["status"], draft["autoAdvance"]) == ("DRAFT", False)
    await advance(api, run_worker, clock, RENEWAL + timedelta(hours=3))
    assert (await invoices_of(api, sub["id"]))[-1]["status"] == "DRAFT"  # nothing advances it
    assert await auto_advance(api, draft["id"], True) == {"status": "DRAFT", "autoAdvance": True,
                                                          "nextPaymentAttempt": None}
    await advance(api, run_worker, clock, RENEWAL + timedelta(hours=3, minutes=1))
    paid = await invoice(api, draft["id"])
    assert (paid["status"], paid["attemptCount"]) == ("PAID", 1)
    # finalized when turned back on (its hour had passed), never before
    assert paid["statusTransitions"]["finalizedAt"] == (RENEWAL + timedelta(hours=3)).isoformat()


async def test_auto_advance_off_then_on_keeps_a_draft_hour(api, run_worker):
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, await create_price(api, 2000))
    await advance(api, run_worker, clock, RENEWAL + timedelta(minutes=10))
    draft = (await invoices_of(api, sub["id"]))[-1]
    await auto_advance(api, draft["id"], False)
    await auto_advance(api, draft["id"], True)
    await advance(api, run_worker, clock, RENEWAL + timedelta(hours=2))
    assert (await invoice(api, draft["id"]))["statusTransitions"]["finalizedAt"] == (
        RENEWAL + timedelta(hours=1)).isoformat()


async def test_auto_advance_cannot_change_on_a_paid_invoice(api):
    clock = await create_clock(api, START)
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, await create_price(api, 2000))
    first = sub["latestInvoice"]
    assert first["status"] == "PAID"
    error = await api.error(UPDATE, {"id": first["id"], "on": True})
    assert error["extensions"]["param"] == "autoAdvance"
