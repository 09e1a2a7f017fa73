"""SEND_INVOICE subscriptions through HTTP with a real worker: never charged automatically, due
daysUntilDue after finalization, past due after that."""
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

INVOICE = """query($id: ID!) { invoice(id: $id) { status dueDate attemptCount attempted nextPaymentAttempt
  collectionMethod paymentIntent { id } statusTransitions { finalizedAt paidAt } } }"""
PAY = "mutation($id: ID!, $input: PayInvoiceInput) { payInvoice(id: $id, input: $input) { status } }"


async def invoice(api, id: str) -> dict:
    return (await api.ok(INVOICE, {"id": id}))["invoice"]


async def events_of(api, object_id: str, type: str) -> list[dict]:
    data = await api.ok("query($type: String) { events(first: 100, type: $type) { nodes { type created data } } }",
                        {"type": type})
    return [e for e in reversed(data["events"]["nodes"]) if e["data"]["object"].get("id") == object_id]


async def send_invoice_subscription(api, days: int = 15) -> tuple[str, str, dict]:
    clock = await create_clock(api)
    customer = await create_customer(api, clock)  # it has a card: it must still not be charged
    sub = await subscribe(api, customer, await create_price(api, 2000), collectionMethod="SEND_INVOICE",
                          daysUntilDue=days)
    return clock, customer, sub


async def test_the_first_invoice_is_sent_not_charged_and_falls_due(api, run_worker):
    clock, customer, sub = await send_invoice_subscription(api)
    assert (sub["status"], sub["collectionMethod"], sub["daysUntilDue"]) == ("ACTIVE", "SEND_INVOICE", 15)
    first = await invoice(api, sub["latestInvoice"]["id"])
    due = START + timedelta(days=15)
    assert (first["status"], first["collectionMethod"], first["dueDate"]) == ("OPEN", "SEND_INVOICE", due.isoformat())
    assert (first["attemptCount"], first["attempted"], first["nextPaymentAttempt"], first["paymentIntent"]) == (
        0, False, None, None)
    await advance(api, run_worker, clock, due - timedelta(seconds=1))
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"
    assert await events_of(api, first_id(sub), "invoice.overdue") == []
    await advance(api, run_worker, clock, due)
    assert (await subscription(api, sub["id"]))["status"] == "PAST_DUE"
    [overdue] = await events_of(api, first_id(sub), "invoice.overdue")
    assert overdue["created"] == due.isoformat()
    [past_due] = await events_of(api, sub["id"], "customer.subscription.updated")
    assert past_due["data"]["previous_attributes"]["status"] == "active"
    assert (await invoice(api, first_id(sub)))["status"] == "OPEN"
    await api.ok(PAY, {"id": first_id(sub), "input": {"paidOutOfBand": True}})
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"
    await advance(api, run_worker, clock, due + timedelta(days=5))
    assert len(await events_of(api, first_id(sub), "invoice.overdue")) == 1


def first_id(sub: dict) -> str:
    return sub["latestInvoice"]["id"]


async def test_renewals_are_finalized_with_a_due_date_and_never_charged(api, run_worker):
    clock, customer, sub = await send_invoice_subscription(api, days=10)
    await api.ok(PAY, {"id": first_id(sub), "input": {"paymentMethod": "pm_card_visa"}})
    await advance(api, run_worker, clock, datetime(2026, 3, 31, 12, tzinfo=UTC))
    renewals = (await invoices_of(api, sub["id"]))[1:]
    assert [i["status"] for i in renewals] == ["OPEN", "DRAFT"]
    feb = await invoice(api, renewals[0]["id"])
    finalized = datetime(2026, 2, 28, 13, tzinfo=UTC)
    assert feb["statusTransitions"]["finalizedAt"] == finalized.isoformat()
    assert feb["dueDate"] == (finalized + timedelta(days=10)).isoformat()
    assert (feb["attemptCount"], feb["nextPaymentAttempt"], feb["paymentIntent"]) == (0, None, None)
    [overdue] = await events_of(api, renewals[0]["id"], "invoice.overdue")
    assert overdue["created"] == (finalized + timedelta(days=10)).isoformat()
    state = await subscription(api, sub["id"])
    assert state["status"] == "PAST_DUE"


async def test_a_declined_card_payment_of_a_sent_invoice_does_not_make_it_past_due(api):
    clock, customer, sub = await send_invoice_subscription(api)
    status, body = await api.post(PAY, {"id": first_id(sub), "input": {"paymentMethod": "pm_card_chargeCustomerFail"}})
    assert body["errors"][0]["extensions"]["type"] == "card_error"
    seen = await invoice(api, first_id(sub))
    assert (seen["status"], seen["attemptCount"], seen["nextPaymentAttempt"]) == ("OPEN", 1, None)
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"
    paid = (await api.ok(PAY, {"id": first_id(sub), "input": {"paymentMethod": "pm_card_visa"}}))["payInvoice"]
    assert paid["status"] == "PAID"
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"
