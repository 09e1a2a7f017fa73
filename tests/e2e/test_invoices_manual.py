"""Manual invoices and invoice items through HTTP: pending items, the status machine and its events."""
import asyncio
from datetime import UTC, datetime

import pytest

from tests.billing_flows import (
    INVOICE_FIELDS,
    START,
    advance,
    create_clock,
    create_customer,
    create_price,
    invoices_of,
    subscribe,
)

CREATE_INVOICE = f"mutation($input: CreateInvoiceInput!) {{ createInvoice(input: $input) {{ {INVOICE_FIELDS} }} }}"
CREATE_ITEM = """mutation($input: CreateInvoiceItemInput!) { createInvoiceItem(input: $input) {
  id amount currency quantity unitAmountDecimal description discountable period { start end }
  invoice { id } price { id } } }"""
INVOICE = f"query($id: ID!) {{ invoice(id: $id) {{ {INVOICE_FIELDS} paid paidOutOfBand attempted " \
          "statusTransitions { finalizedAt paidAt voidedAt markedUncollectibleAt } paymentIntent { status amount } " \
          "customer { balance } } }"
PENDING = "query($c: ID!) { invoiceItems(customer: $c, pending: true, first: 100) { nodes { id amount } } }"


async def one_time_price(api, unit_amount: int, currency: str = "usd") -> str:
    product = (await api.ok('mutation { createProduct(input: {name: "Setup"}) { id } }'))["createProduct"]["id"]
    data = await api.ok("mutation($input: CreatePriceInput!) { createPrice(input: $input) { id } }",
                        {"input": {"product": product, "currency": currency, "unitAmount": unit_amount}})
    return data["createPrice"]["id"]


async def create_item(api, customer: str, **fields) -> dict:
    data = await api.ok(CREATE_ITEM, {"input": {"customer": customer, **fields}})
    return data["createInvoiceItem"]


async def create_invoice(api, customer: str, **fields) -> dict:
    return (await api.ok(CREATE_INVOICE, {"input": {"customer": customer, **fields}}))["createInvoice"]


async def invoice(api, id: str) -> dict | None:
    return (await api.ok(INVOICE, {"id": id}))["invoice"]


async def pending_ids(api, customer: str) -> list[str]:
    return [n["id"] for n in (await api.ok(PENDING, {"c": customer}))["invoiceItems"]["nodes"]]


async def transition(api, mutation: str, id: str, args: str = "") -> dict:
    data = await api.ok(f"mutation($id: ID!) {{ {mutation}(id: $id{args}) {{ id status }} }}", {"id": id})
    return data[mutation]


async def events_of(api, object_id: str) -> list[str]:
    data = await api.ok("query { events(first: 100) { nodes { type data } } }")
    return sorted(n["type"] for n in data["events"]["nodes"] if n["data"]["object"].get("id") == object_id)


async def test_invoice_items_by_price_amount_and_decimal(api):
    customer = await create_customer(api, None)
    price = await one_time_price(api, 1250)
    by_price = await create_item(api, customer, price=price, quantity=3, description="Setup")
    assert (by_price["amount"], by_price["currency"], by_price["quantity"]) == (3750, "usd", 3)
    assert by_price["price"]["id"] == price and by_price["invoice"] is None and by_price["discountable"]
    by_amount = await create_item(api, customer, amount=-500, currency="usd", discountable=False)
    assert (by_amount["amount"], by_amount["quantity"], by_amount["discountable"]) == (-500, 1, False)
    by_decimal = await create_item(api, customer, unitAmountDecimal="0.333", quantity=1000, currency="usd")
    assert by_decimal["amount"] == 333 and by_decimal["unitAmountDecimal"] == "0.333"
    assert set(await pending_ids(api, customer)) == {by_price["id"], by_amount["id"], by_decimal["id"]}
    assert await events_of(api, by_price["id"]) == ["invoiceitem.created"]


@pytest.mark.parametrize(("fields", "param"), [
    ({"amount": 100}, "currency"),
    ({"currency": "usd"}, "amount"),
    ({"amount": 100, "unitAmountDecimal": "1", "currency": "usd"}, "unitAmountDecimal"),
    ({"price": "price_missing"}, "price"),
    ({"amount": 100, "currency": "usd", "quantity": -1}, "quantity"),
    ({"amount": 100, "currency": "usd", "invoice": "in_missing"}, "id"),
])
async def test_invoice_item_errors(api, fields, param):
    customer = await create_customer(api, None)
    error = await api.error(CREATE_ITEM, {"input": {"customer": customer, **fields}})
    assert error["extensions"]["type"] == "invalid_request_error"
    assert error["extensions"]["param"] == param, error
    assert await pending_ids(api, customer) == []


async def test_create_invoice_excludes_pending_items_by_default(api):
    customer = await create_customer(api, None)
    item = await create_item(api, customer, amount=700, currency="usd")
    draft = await create_invoice(api, customer)
    assert draft["status"] == "DRAFT" and draft["billingReason"] == "MANUAL" and draft["number"] is None
    assert draft["lines"]["totalCount"] == 0 and draft["total"] == 0
    assert draft["autoAdvance"] is False
    assert await pending_ids(api, customer) == [item["id"]]
    excluded = await create_invoice(api, customer, pendingInvoiceItemsBehavior="EXCLUDE")
    assert excluded["lines"]["totalCount"] == 0


async def test_create_invoice_includes_pending_items(api):
    customer = await create_customer(api, None)
    first = await create_item(api, customer, amount=700, currency="usd")
    second = await create_item(api, customer, amount=300, currency="usd", description="Extra")
    draft = await create_invoice(api, customer, pendingInvoiceItemsBehavior="INCLUDE")
    assert draft["lines"]["totalCount"] == 2
    assert sorted(line["amount"] for line in draft["lines"]["nodes"]) == [300, 700]
    assert {line["type"] for line in draft["lines"]["nodes"]} == {"INVOICEITEM"}
    assert (draft["subtotal"], draft["total"], draft["amountDue"]) == (1000, 1000, 1000)
    assert await pending_ids(api, customer) == []
    items = await api.ok("query($i: ID!) { invoiceItems(invoice: $i) { nodes { id } } }", {"i": draft["id"]})
    assert {n["id"] for n in items["invoiceItems"]["nodes"]} == {first["id"], second["id"]}
    assert "invoice.created" in await events_of(api, draft["id"])


async def test_item_on_a_draft_and_delete_item(api):
    customer = await create_customer(api, None)
    draft = await create_invoice(api, customer)
    on_draft = await create_item(api, customer, amount=1500, currency="usd", invoice=draft["id"])
    assert on_draft["invoice"]["id"] == draft["id"]
    state = await invoice(api, draft["id"])
    assert state["total"] == 1500 and state["lines"]["totalCount"] == 1
    wrong_currency = await api.error(CREATE_ITEM, {"input": {"customer": customer, "amount": 5, "currency": "eur",
                                                             "invoice": draft["id"]}})
    assert wrong_currency["extensions"]["param"] == "currency"
    pending = await create_item(api, customer, amount=200, currency="usd")
    for item in (on_draft, pending):
        deleted = await api.ok("mutation($id: ID!) { deleteInvoiceItem(id: $id) { id deleted } }", {"id": item["id"]})
        assert deleted["deleteInvoiceItem"] == {"id": item["id"], "deleted": True}
        assert await events_of(api, item["id"]) == ["invoiceitem.created", "invoiceitem.deleted"]
    state = await invoice(api, draft["id"])
    assert state["total"] == 0 and state["lines"]["totalCount"] == 0
    assert await pending_ids(api, customer) == []
    again = await api.error("mutation($id: ID!) { deleteInvoiceItem(id: $id) { id } }", {"id": pending["id"]})
    assert again["extensions"]["code"] == "resource_missing"


async def test_item_on_an_open_invoice_cannot_be_added_or_deleted(api):
    customer = await create_customer(api, None)
    draft = await create_invoice(api, customer)
    item = await create_item(api, customer, amount=900, currency="usd", invoice=draft["id"])
    await transition(api, "finalizeInvoice", draft["id"])
    for query, variables in [
        (CREATE_ITEM, {"input": {"customer": customer, "amount": 1, "currency": "usd", "invoice": draft["id"]}}),
        ("mutation($id: ID!) { deleteInvoiceItem(id: $id) { id } }", {"id": item["id"]}),
    ]:
        error = await api.error(query, variables)
        assert error["extensions"]["type"] == "invalid_request_error"
    assert (await invoice(api, draft["id"]))["total"] == 900


async def test_pending_items_join_the_next_subscription_invoice(api, run_worker):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    customer = await create_customer(api, clock)
    other = await create_customer(api, clock)
    sub = await subscribe(api, customer, price)
    general = await create_item(api, customer, amount=500, currency="usd", description="Support hours")
    own = await create_item(api, customer, amount=250, currency="usd", subscription=sub["id"])
    foreign = await create_item(api, other, amount=999, currency="usd")
    await advance(api, run_worker, clock, datetime(2026, 3, 1, tzinfo=UTC))
    renewal = (await invoices_of(api, sub["id"]))[-1]
    assert renewal["billingReason"] == "SUBSCRIPTION_CYCLE" and renewal["status"] == "PAID"
    amounts = sorted(line["amount"] for line in renewal["lines"]["nodes"])
    assert amounts == [250, 500, 2000] and renewal["total"] == 2750 and renewal["amountPaid"] == 2750
    assert await pending_ids(api, customer) == []
    assert await pending_ids(api, other) == [foreign["id"]]
    items = await api.ok("query($i: ID!) { invoiceItems(invoice: $i) { nodes { id } } }", {"i": renewal["id"]})
    assert {n["id"] for n in items["invoiceItems"]["nodes"]} == {general["id"], own["id"]}


async def test_invoice_for_a_subscription_takes_only_its_pending_items(api):
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    first = await subscribe(api, customer, await create_price(api, 1000))
    second = await subscribe(api, customer, await create_price(api, 3000))
    mine = await create_item(api, customer, amount=100, currency="usd", subscription=first["id"])
    theirs = await create_item(api, customer, amount=200, currency="usd", subscription=second["id"])
    draft = await create_invoice(api, customer, subscription=first["id"], pendingInvoiceItemsBehavior="INCLUDE")
    assert [line["amount"] for line in draft["lines"]["nodes"]] == [100]
    assert await pending_ids(api, customer) == [theirs["id"]]
    assert mine["id"] not in await pending_ids(api, customer)


async def test_finalize_and_pay_with_a_payment_method(api):
    customer = await create_customer(api, None, card=None)
    draft = await create_invoice(api, customer)
    await create_item(api, customer, amount=4200, currency="usd", invoice=draft["id"])
    opened = await api.ok("mutation($id: ID!) { finalizeInvoice(id: $id) { status number amountDue amountRemaining "
                          "statusTransitions { finalizedAt } } }", {"id": draft["id"]})
    opened = opened["finalizeInvoice"]
    assert opened["status"] == "OPEN" and opened["number"].endswith("-0001")
    assert (opened["amountDue"], opened["amountRemaining"]) == (4200, 4200)
    assert opened["statusTransitions"]["finalizedAt"] is not None
    declined = await api.error(
        "mutation($id: ID!, $pm: ID!) { payInvoice(id: $id, input: {paymentMethod: $pm}) { id } }",
        {"id": draft["id"], "pm": "pm_card_chargeCustomerFail"})
    assert declined["extensions"]["type"] == "card_error"
    failed = await invoice(api, draft["id"])
    assert failed["status"] == "OPEN" and failed["attemptCount"] == 1 and failed["amountRemaining"] == 4200
    paid = await api.ok("mutation($id: ID!, $pm: ID!) { payInvoice(id: $id, input: {paymentMethod: $pm}) { status } }",
                        {"id": draft["id"], "pm": "pm_card_visa"})
    assert paid["payInvoice"]["status"] == "PAID"
    state = await invoice(api, draft["id"])
    assert state["paid"] and not state["paidOutOfBand"] and state["attemptCount"] == 2
    assert (state["amountPaid"], state["amountRemaining"]) == (4200, 0)
    assert state["paymentIntent"] == {"status": "SUCCEEDED", "amount": 4200}
    assert state["statusTransitions"]["paidAt"] is not None
    types = await events_of(api, draft["id"])
    for expected in ("invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_succeeded",
                     "invoice.payment_failed", "invoice.updated"):
        assert expected in types, types


async def test_pay_out_of_band_void_and_uncollectible(api):
    customer = await create_customer(api, None)
    ids = []
    for _ in range(4):
        draft = await create_invoice(api, customer)
        await create_item(api, customer, amount=1000, currency="usd", invoice=draft["id"])
        await transition(api, "finalizeInvoice", draft["id"])
        ids.append(draft["id"])
    band, voided, bad, bad_then_paid = ids
    paid = await api.ok("mutation($id: ID!) { payInvoice(id: $id, input: {paidOutOfBand: true}) { status "
                        "paidOutOfBand amountPaid } }", {"id": band})
    assert paid["payInvoice"] == {"status": "PAID", "paidOutOfBand": True, "amountPaid": 1000}
    assert "invoice.payment_succeeded" not in await events_of(api, band)
    assert (await transition(api, "voidInvoice", voided))["status"] == "VOID"
    state = await invoice(api, voided)
    assert state["amountRemaining"] == 0 and state["statusTransitions"]["voidedAt"] is not None
    assert (await transition(api, "markInvoiceUncollectible", bad))["status"] == "UNCOLLECTIBLE"
    assert (await invoice(api, bad))["statusTransitions"]["markedUncollectibleAt"] is not None
    assert (await transition(api, "voidInvoice", bad))["status"] == "VOID"
    await transition(api, "markInvoiceUncollectible", bad_then_paid)
    assert (await transition(api, "payInvoice", bad_then_paid))["status"] == "PAID"
    assert (await invoice(api, bad_then_paid))["amountPaid"] == 1000
    assert "invoice.voided" in await events_of(api, voided)
    assert {"invoice.marked_uncollectible", "invoice.voided"} <= set(await events_of(api, bad))
    assert {"invoice.marked_uncollectible", "invoice.paid"} <= set(await events_of(api, bad_then_paid))


async def _invoice_in(api, customer: str, status: str) -> str:
    draft = await create_invoice(api, customer)
    await create_item(api, customer, amount=800, currency="usd", invoice=draft["id"])
    if status == "DRAFT":
        return draft["id"]
    await transition(api, "finalizeInvoice", draft["id"])
    follow_up = {"PAID": "payInvoice", "VOID": "voidInvoice", "UNCOLLECTIBLE": "markInvoiceUncollectible"}
    if status in follow_up:
        await transition(api, follow_up[status], draft["id"])
    return draft["id"]


@pytest.mark.parametrize(("status", "mutation"), [
    ("DRAFT", "payInvoice"), ("DRAFT", "voidInvoice"), ("DRAFT", "markInvoiceUncollectible"),
    ("OPEN", "finalizeInvoice"), ("OPEN", "deleteInvoice"),
    ("PAID", "voidInvoice"), ("PAID", "payInvoice"), ("PAID", "markInvoiceUncollectible"),
    ("PAID", "finalizeInvoice"), ("PAID", "deleteInvoice"),
    ("VOID", "payInvoice"), ("VOID", "voidInvoice"), ("VOID", "markInvoiceUncollectible"),
    ("VOID", "finalizeInvoice"), ("VOID", "deleteInvoice"),
    ("UNCOLLECTIBLE", "markInvoiceUncollectible"), ("UNCOLLECTIBLE", "finalizeInvoice"),
    ("UNCOLLECTIBLE", "deleteInvoice"),
])
async def test_forbidden_transitions(api, status, mutation):
    customer = await create_customer(api, None)
    id = await _invoice_in(api, customer, status)
    before = await invoice(api, id)
    error = await api.error(f"mutation($id: ID!) {{ {mutation}(id: $id) {{ id }} }}", {"id": id})
    assert error["extensions"]["type"] == "invalid_request_error", error
    assert await invoice(api, id) == before


async def test_delete_a_draft(api):
    customer = await create_customer(api, None)
    item = await create_item(api, customer, amount=300, currency="usd")
    draft = await create_invoice(api, customer, pendingInvoiceItemsBehavior="INCLUDE")
    deleted = await api.ok("mutation($id: ID!) { deleteInvoice(id: $id) { id deleted } }", {"id": draft["id"]})
    assert deleted["deleteInvoice"] == {"id": draft["id"], "deleted": True}
    assert await invoice(api, draft["id"]) is None
    assert await pending_ids(api, customer) == [item["id"]]
    assert "invoice.deleted" in await events_of(api, draft["id"])
    listed = await api.ok("query($c: ID!) { invoices(customer: $c) { nodes { id } } }", {"c": customer})
    assert listed["invoices"]["nodes"] == []
    again = await api.error("mutation($id: ID!) { deleteInvoice(id: $id) { id } }", {"id": draft["id"]})
    assert again["extensions"]["code"] == "resource_missing"


async def test_update_invoice_drafts_only_except_auto_advance_and_metadata(api):
    customer = await create_customer(api, None)
    draft = await create_invoice(api, customer, metadata={"a": "1"})
    update = ("mutation($id: ID!, $input: UpdateInvoiceInput!) { updateInvoice(id: $id, input: $input) { "
              "description collectionMethod dueDate autoAdvance metadata } }")
    changed = await api.ok(update, {"id": draft["id"], "input": {
        "description": "Consulting", "collectionMethod": "SEND_INVOICE", "metadata": {"b": "2"}}})
    assert changed["updateInvoice"]["description"] == "Consulting"
    assert changed["updateInvoice"]["collectionMethod"] == "SEND_INVOICE"
    assert changed["updateInvoice"]["metadata"] == {"a": "1", "b": "2"}
    assert "invoice.updated" in await events_of(api, draft["id"])
    await create_item(api, customer, amount=100, currency="usd", invoice=draft["id"])
    opened = await api.ok("mutation($id: ID!) { finalizeInvoice(id: $id) { status dueDate } }", {"id": draft["id"]})
    assert opened["finalizeInvoice"]["status"] == "OPEN" and opened["finalizeInvoice"]["dueDate"] is not None
    for forbidden in ({"description": "Other"}, {"collectionMethod": "CHARGE_AUTOMATICALLY"}, {"daysUntilDue": 5}):
        error = await api.error(update, {"id": draft["id"], "input": forbidden})
        assert error["extensions"]["type"] == "invalid_request_error", forbidden
    allowed = await api.ok(update, {"id": draft["id"], "input": {"autoAdvance": False, "metadata": {"c": "3"}}})
    assert allowed["updateInvoice"]["autoAdvance"] is False
    assert allowed["updateInvoice"]["metadata"] == {"a": "1", "b": "2", "c": "3"}
    assert allowed["updateInvoice"]["description"] == "Consulting"


async def test_auto_advance_draft_is_finalized_after_an_hour(api, run_worker):
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    draft = await create_invoice(api, customer, autoAdvance=True)
    await create_item(api, customer, amount=1200, currency="usd", invoice=draft["id"])
    await advance(api, run_worker, clock, START.replace(hour=12, minute=59))
    assert (await invoice(api, draft["id"]))["status"] == "DRAFT"
    await advance(api, run_worker, clock, START.replace(hour=13, minute=1))
    state = await invoice(api, draft["id"])
    assert state["status"] == "PAID" and state["amountPaid"] == 1200
    assert state["statusTransitions"]["finalizedAt"].startswith("2026-01-31T13:00:00")


async def test_concurrent_invoices_take_each_pending_item_once(pg_api):
    api = pg_api
    customer = await create_customer(api, None)
    items = [await create_item(api, customer, amount=100 * (i + 1), currency="usd") for i in range(6)]
    drafts = await asyncio.gather(*(create_invoice(api, customer, pendingInvoiceItemsBehavior="INCLUDE")
                                    for _ in range(4)))
    assert sum(d["total"] for d in drafts) == sum(item["amount"] for item in items) == 2100
    assert sum(d["lines"]["totalCount"] for d in drafts) == 6
    assert await pending_ids(api, customer) == []


async def test_auto_advance_off_stops_automatic_collection(api, run_worker):
    clock = await create_clock(api)
    customer = await create_customer(api, clock, card="pm_card_chargeCustomerFail")
    manual_only = await create_invoice(api, customer)
    await create_item(api, customer, amount=500, currency="usd", invoice=manual_only["id"])
    opened = await api.ok("mutation($id: ID!) { finalizeInvoice(id: $id, autoAdvance: false) { status autoAdvance "
                          "nextPaymentAttempt } }", {"id": manual_only["id"]})
    assert opened["finalizeInvoice"] == {"status": "OPEN", "autoAdvance": False, "nextPaymentAttempt": None}
    retried = await create_invoice(api, customer, autoAdvance=True)
    await create_item(api, customer, amount=700, currency="usd", invoice=retried["id"])
    await transition(api, "finalizeInvoice", retried["id"])
    await advance(api, run_worker, clock, START.replace(hour=13))
    failed = await invoice(api, retried["id"])
    assert failed["attemptCount"] == 1 and failed["nextPaymentAttempt"] is not None
    update = "mutation($id: ID!) { updateInvoice(id: $id, input: {autoAdvance: false}) { nextPaymentAttempt } }"
    assert (await api.ok(update, {"id": retried["id"]}))["updateInvoice"]["nextPaymentAttempt"] is None
    await advance(api, run_worker, clock, datetime(2026, 3, 1, tzinfo=UTC))
    for id in (manual_only["id"], retried["id"]):
        state = await invoice(api, id)
        assert state["status"] == "OPEN" and state["attemptCount"] == (0 if id == manual_only["id"] else 1)
