"""Failed payments through HTTP with a real worker: an incomplete first invoice (paid later, or expiring
after 23 hours), payment behaviors, and failed renewals retried on the schedule until the subscription is
canceled (or unpaid, by setting) — or paid and active again."""
from datetime import UTC, datetime, timedelta

from tests.billing_flows import (
    advance,
    create_clock,
    create_customer,
    create_price,
    invoices_of,
    subscribe,
    subscription,
)

CREATE = "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id status } }"
PAY = """mutation($id: ID!, $pm: ID) { payInvoice(id: $id, input: {paymentMethod: $pm}) {
  status amountPaid attemptCount paymentIntent { status amountReceived } } }"""
INVOICE = """query($id: ID!) { invoice(id: $id) { status attemptCount attempted nextPaymentAttempt amountRemaining
  statusTransitions { finalizedAt paidAt voidedAt }
  paymentIntent { status amount lastPaymentError { code declineCode message } } } }"""
FAIL = "pm_card_chargeCustomerFail"


async def invoice(api, id: str) -> dict:
    return (await api.ok(INVOICE, {"id": id}))["invoice"]


async def events_of(api, object_id: str, type: str | None = None) -> list[dict]:
    """The object's events (type, created, data), oldest first."""
    data = await api.ok("query($type: String) { events(first: 100, type: $type) { nodes { type created data } } }",
                        {"type": type})
    return [e for e in reversed(data["events"]["nodes"]) if e["data"]["object"].get("id") == object_id]


async def switch_default_card(api, customer: str, card: str) -> None:
    pm = (await api.ok("mutation($c: ID!, $pm: ID!) { attachPaymentMethod(customer: $c, paymentMethod: $pm) { id } }",
                       {"c": customer, "pm": card}))["attachPaymentMethod"]["id"]
    await api.ok("mutation($c: ID!, $pm: ID!) { updateCustomer(id: $c, input: {defaultPaymentMethod: $pm}) { id } }",
                 {"c": customer, "pm": pm})


# ---------------------------------------------------------------- the first payment

async def test_a_declined_first_payment_leaves_it_incomplete_until_paid(api, run_worker):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    customer = await create_customer(api, clock, card=FAIL)
    sub = await subscribe(api, customer, price)
    assert sub["status"] == "INCOMPLETE"
    first = await invoice(api, sub["latestInvoice"]["id"])
    assert (first["status"], first["attemptCount"], first["attempted"]) == ("OPEN", 1, True)
    assert first["nextPaymentAttempt"] is None  # a first invoice is not retried automatically
    assert first["paymentIntent"]["status"] == "REQUIRES_PAYMENT_METHOD"
    assert first["paymentIntent"]["lastPaymentError"] == {"code": "card_declined", "declineCode": "generic_decline",
                                                          "message": "Your card was declined."}
    assert [e["type"] for e in await events_of(api, sub["latestInvoice"]["id"], "invoice.payment_failed")] == [
        "invoice.payment_failed"]

    status, body = await api.post(PAY, {"id": first_id(sub), "pm": FAIL})
    assert body["errors"][0]["extensions"]["type"] == "card_error"
    assert body["errors"][0]["extensions"]["declineCode"] == "generic_decline"
    assert (await invoice(api, first_id(sub)))["attemptCount"] == 2  # the declined attempt is recorded
    assert (await subscription(api, sub["id"]))["status"] == "INCOMPLETE"

    await advance(api, run_worker, clock, datetime.fromisoformat(sub["currentPeriodStart"]) + timedelta(hours=22))
    paid = (await api.ok(PAY, {"id": first_id(sub), "pm": "pm_card_visa"}))["payInvoice"]
    assert paid == {"status": "PAID", "amountPaid": 2000, "attemptCount": 3,
                    "paymentIntent": {"status": "SUCCEEDED", "amountReceived": 2000}}
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"
    [activated] = [e for e in await events_of(api, sub["id"], "customer.subscription.updated")]
    assert activated["data"]["object"]["status"] == "active"
    assert activated["data"]["previous_attributes"]["status"] == "incomplete"
    await advance(api, run_worker, clock, datetime.fromisoformat(sub["currentPeriodStart"]) + timedelta(days=1))
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"  # paid: it never expires
    assert (await invoice(api, first_id(sub)))["status"] == "PAID"


def first_id(sub: dict) -> str:
    return sub["latestInvoice"]["id"]


async def test_an_incomplete_subscription_expires_after_23_hours_and_its_invoice_is_voided(api, run_worker):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    sub = await subscribe(api, await create_customer(api, clock, card=FAIL), price)
    created = datetime.fromisoformat(sub["currentPeriodStart"])
    await advance(api, run_worker, clock, created + timedelta(hours=22, minutes=59, seconds=59))
    assert (await subscription(api, sub["id"]))["status"] == "INCOMPLETE"
    await advance(api, run_worker, clock, created + timedelta(hours=23))
    state = await subscription(api, sub["id"])
    assert state["status"] == "INCOMPLETE_EXPIRED"
    assert state["endedAt"] == (created + timedelta(hours=23)).isoformat()
    voided = await invoice(api, first_id(sub))
    assert (voided["status"], voided["amountRemaining"]) == ("VOID", 0)
    assert voided["statusTransitions"]["voidedAt"] == (created + timedelta(hours=23)).isoformat()
    [expired] = await events_of(api, sub["id"], "customer.subscription.updated")
    assert expired["data"]["object"]["status"] == "incomplete_expired"
    assert expired["data"]["previous_attributes"]["status"] == "incomplete"
    error = await api.error(PAY, {"id": first_id(sub), "pm": "pm_card_visa"})
    assert error["extensions"]["type"] == "invalid_request_error"
    listed = await api.ok("query($c: ID!) { subscriptions(customer: $c) { nodes { id } } }",
                          {"c": (await api.ok("query($id: ID!) { subscription(id: $id) { customer { id } } }",
                                              {"id": sub["id"]}))["subscription"]["customer"]["id"]})
    assert listed["subscriptions"]["nodes"] == []  # listed by default only while alive, as Stripe
    await advance(api, run_worker, clock, created + timedelta(days=60))
    assert len(await invoices_of(api, sub["id"])) == 1  # no renewals after expiry


async def test_default_incomplete_waits_for_the_payment_without_attempting_it(api):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    sub = await subscribe(api, await create_customer(api, clock), price, paymentBehavior="DEFAULT_INCOMPLETE")
    assert sub["status"] == "INCOMPLETE"
    waiting = await invoice(api, first_id(sub))
    assert (waiting["status"], waiting["attemptCount"], waiting["attempted"]) == ("OPEN", 0, False)
    paid = (await api.ok(PAY, {"id": first_id(sub), "pm": None}))["payInvoice"]
    assert (paid["status"], paid["attemptCount"]) == ("PAID", 1)
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"


async def test_error_if_incomplete_creates_nothing_when_the_payment_is_declined(api):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    declining = await create_customer(api, clock, card="pm_card_chargeDeclinedInsufficientFunds")
    error = await api.error(CREATE, {"input": {"customer": declining, "items": [{"price": price}],
                                               "paymentBehavior": "ERROR_IF_INCOMPLETE"}})
    assert error["extensions"]["type"] == "card_error"
    assert error["extensions"]["code"] == "card_declined"
    assert error["extensions"]["declineCode"] == "insufficient_funds"
    data = await api.ok("query($c: ID!) { customer(id: $c) { subscriptions { nodes { id } } invoices { nodes { id } } "
                        "} }", {"c": declining})
    assert data["customer"] == {"subscriptions": {"nodes": []}, "invoices": {"nodes": []}}
    types = (await api.ok('{ events(first: 100, type: "invoice.*") { nodes { type } } }'))["events"]["nodes"]
    assert types == []
    paying = await create_customer(api, clock)
    data = await api.ok(CREATE, {"input": {"customer": paying, "items": [{"price": price}],
                                           "paymentBehavior": "ERROR_IF_INCOMPLETE"}})
    assert data["createSubscription"]["status"] == "ACTIVE"


async def test_allow_incomplete_is_the_default_and_keeps_a_declined_subscription(api):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    customer = await create_customer(api, clock, card=FAIL)
    sub = await subscribe(api, customer, price, paymentBehavior="ALLOW_INCOMPLETE")
    assert sub["status"] == "INCOMPLETE"
    no_card = await create_customer(api, clock, card=None)
    sub = await subscribe(api, no_card, price)
    assert sub["status"] == "INCOMPLETE"
    missing = await invoice(api, first_id(sub))
    assert missing["paymentIntent"]["lastPaymentError"]["code"] == "payment_method_missing"


# ---------------------------------------------------------------- renewals

async def _past_due(api, run_worker) -> tuple[str, str, dict]:
    """A monthly subscription whose first renewal (2026-02-28 12:00, charged at 13:00) was declined."""
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, price)
    await switch_default_card(api, customer, FAIL)
    await advance(api, run_worker, clock, datetime(2026, 2, 28, 13, tzinfo=UTC))
    return clock, customer, sub


async def test_a_failed_renewal_is_retried_on_the_schedule_then_the_subscription_is_canceled(api, run_worker):
    clock, customer, sub = await _past_due(api, run_worker)
    state = await subscription(api, sub["id"])
    assert state["status"] == "PAST_DUE"
    renewal = state["latestInvoice"]["id"]
    first_attempt = datetime(2026, 2, 28, 13, tzinfo=UTC)
    expected = [(1, first_attempt + timedelta(days=3)), (2, first_attempt + timedelta(days=7)),
                (3, first_attempt + timedelta(days=14)), (4, None)]
    for attempts, next_attempt in expected:
        seen = await invoice(api, renewal)
        assert seen["status"] == "OPEN"
        assert (seen["attemptCount"], seen["nextPaymentAttempt"]) == (
            attempts, next_attempt and next_attempt.isoformat())
        assert seen["paymentIntent"]["lastPaymentError"]["code"] == "card_declined"
        assert (await subscription(api, sub["id"]))["status"] == ("PAST_DUE" if next_attempt else "CANCELED")
        if next_attempt:
            await advance(api, run_worker, clock, next_attempt)
    failures = await events_of(api, renewal, "invoice.payment_failed")
    assert [e["created"] for e in failures] == [
        (first_attempt + timedelta(days=d)).isoformat() for d in (0, 3, 7, 14)]
    assert [e["data"]["object"]["attempt_count"] for e in failures] == [1, 2, 3, 4]
    state = await subscription(api, sub["id"])
    assert (state["endedAt"], state["canceledAt"]) == ((first_attempt + timedelta(days=14)).isoformat(),) * 2
    [deleted] = await events_of(api, sub["id"], "customer.subscription.deleted")
    assert deleted["data"]["object"]["status"] == "canceled"
    await advance(api, run_worker, clock, datetime(2026, 5, 1, tzinfo=UTC))
    assert len(await invoices_of(api, sub["id"])) == 2  # canceled: no more renewals, no more attempts
    assert (await invoice(api, renewal))["attemptCount"] == 4


async def test_retries_exhausted_make_it_unpaid_by_setting(api, run_worker, monkeypatch):
    monkeypatch.setenv("BILLING_AFTER_RETRIES", "unpaid")
    clock, customer, sub = await _past_due(api, run_worker)
    await advance(api, run_worker, clock, datetime(2026, 3, 14, 13, tzinfo=UTC))
    state = await subscription(api, sub["id"])
    assert (state["status"], state["endedAt"]) == ("UNPAID", None)
    unpaid_invoice = state["latestInvoice"]["id"]
    # Unpaid: invoices continue to be generated, but payments are not attempted.
    await advance(api, run_worker, clock, datetime(2026, 4, 1, tzinfo=UTC))
    invoices = await invoices_of(api, sub["id"])
    assert [(i["status"], i["attemptCount"]) for i in invoices] == [("PAID", 1), ("OPEN", 4), ("OPEN", 0)]
    assert invoices[-1]["nextPaymentAttempt"] is None
    await switch_default_card(api, customer, "pm_card_visa")
    await api.ok(PAY, {"id": unpaid_invoice, "pm": None})
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"


async def test_a_renewal_paid_on_retry_returns_the_subscription_to_active(api, run_worker):
    clock, customer, sub = await _past_due(api, run_worker)
    renewal = (await subscription(api, sub["id"]))["latestInvoice"]["id"]
    await switch_default_card(api, customer, "pm_card_mastercard")
    await advance(api, run_worker, clock, datetime(2026, 3, 3, 13, tzinfo=UTC))  # the first retry
    paid = await invoice(api, renewal)
    assert (paid["status"], paid["attemptCount"], paid["nextPaymentAttempt"]) == ("PAID", 2, None)
    assert paid["statusTransitions"]["paidAt"] == "2026-03-03T13:00:00+00:00"
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"
    statuses = [(e["data"]["object"]["status"], e["data"]["previous_attributes"].get("status"))
                for e in await events_of(api, sub["id"], "customer.subscription.updated")]
    assert statuses[-2:] == [("past_due", "active"), ("active", "past_due")]
    await advance(api, run_worker, clock, datetime(2026, 4, 1, tzinfo=UTC))
    assert [i["status"] for i in await invoices_of(api, sub["id"])] == ["PAID", "PAID", "PAID"]


async def test_a_manual_declined_attempt_keeps_the_retry_schedule(api, run_worker):
    clock, customer, sub = await _past_due(api, run_worker)
    renewal = (await subscription(api, sub["id"]))["latestInvoice"]["id"]
    status, body = await api.post(PAY, {"id": renewal, "pm": None})
    assert body["errors"][0]["extensions"]["type"] == "card_error"
    seen = await invoice(api, renewal)
    assert (seen["attemptCount"], seen["nextPaymentAttempt"]) == (2, "2026-03-03T13:00:00+00:00")
    assert (await subscription(api, sub["id"]))["status"] == "PAST_DUE"
    await advance(api, run_worker, clock, datetime(2026, 3, 3, 13, tzinfo=UTC))
    seen = await invoice(api, renewal)
    assert (seen["attemptCount"], seen["nextPaymentAttempt"]) == (3, "2026-03-07T13:00:00+00:00")


async def test_canceling_a_past_due_subscription_stops_its_retries(api, run_worker):
    clock, customer, sub = await _past_due(api, run_worker)
    renewal = (await subscription(api, sub["id"]))["latestInvoice"]["id"]
    await api.ok("mutation($id: ID!) { cancelSubscription(id: $id) { status } }", {"id": sub["id"]})
    assert (await invoice(api, renewal))["nextPaymentAttempt"] is None
    await advance(api, run_worker, clock, datetime(2026, 3, 20, tzinfo=UTC))
    seen = await invoice(api, renewal)
    assert (seen["status"], seen["attemptCount"]) == ("OPEN", 1)
    assert len(await events_of(api, renewal, "invoice.payment_failed")) == 1


async def test_custom_retry_schedule(api, run_worker, monkeypatch):
    monkeypatch.setenv("BILLING_PAYMENT_RETRY_DAYS", "1,2")
    clock, customer, sub = await _past_due(api, run_worker)
    renewal = (await subscription(api, sub["id"]))["latestInvoice"]["id"]
    assert (await invoice(api, renewal))["nextPaymentAttempt"] == "2026-03-01T13:00:00+00:00"
    await advance(api, run_worker, clock, datetime(2026, 3, 2, 13, tzinfo=UTC))
    seen = await invoice(api, renewal)
    assert (seen["attemptCount"], seen["nextPaymentAttempt"]) == (3, None)
    assert (await subscription(api, sub["id"]))["status"] == "CANCELED"
