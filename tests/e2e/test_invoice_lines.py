"""Editing a draft's lines through HTTP (add, remove with DELETE or UNASSIGN, update), refused once the
invoice is open, and paging the lines."""
from datetime import UTC, datetime

import pytest

from tests.billing_flows import advance, create_clock, create_customer, create_price, invoices_of, subscribe
from tests.e2e.test_invoices_manual import (
    create_invoice,
    create_item,
    events_of,
    invoice,
    one_time_price,
    pending_ids,
    transition,
)

LINE_FIELDS = """id amount description discountable quantity type metadata period { start end } price { id }
  invoiceItem { id amount description }"""
ADD = f"""mutation($id: ID!, $lines: [AddInvoiceLineInput!]!, $meta: JSON) {{
  addInvoiceLines(invoice: $id, lines: $lines, invoiceMetadata: $meta) {{ id total subtotal metadata
    lines(first: 100) {{ totalCount nodes {{ {LINE_FIELDS} }} }} }} }}"""
REMOVE = f"""mutation($id: ID!, $lines: [RemoveInvoiceLineInput!]!) {{
  removeInvoiceLines(invoice: $id, lines: $lines) {{ id total
    lines(first: 100) {{ totalCount nodes {{ {LINE_FIELDS} }} }} }} }}"""
UPDATE = f"""mutation($id: ID!, $lines: [UpdateInvoiceLineInput!]!, $meta: JSON) {{
  updateInvoiceLines(invoice: $id, lines: $lines, invoiceMetadata: $meta) {{ id total metadata
    lines(first: 100) {{ totalCount nodes {{ {LINE_FIELDS} }} }} }} }}"""
PAGE = """query($id: ID!, $first: Int, $after: String) { invoice(id: $id) { lines(first: $first, after: $after) {
  totalCount nodes { id amount } pageInfo { hasNextPage hasPreviousPage endCursor } } } }"""


async def add_lines(api, id: str, lines: list[dict], meta: dict | None = None) -> dict:
    return (await api.ok(ADD, {"id": id, "lines": lines, "meta": meta}))["addInvoiceLines"]


async def test_add_lines_new_items_by_amount_and_price_and_a_pending_item(api):
    customer = await create_customer(api, None)
    price = await one_time_price(api, 450)
    pending = await create_item(api, customer, amount=1000, currency="usd", description="Pending")
    draft = await create_invoice(api, customer, metadata={"k": "v"})
    added = await add_lines(api, draft["id"], [
        {"amount": 2500, "description": "Consulting", "metadata": {"hours": "5"}},
        {"price": price, "quantity": 2},
        {"invoiceItem": pending["id"]},
    ], meta={"po": "42"})
    assert added["metadata"] == {"k": "v", "po": "42"}
    lines = added["lines"]["nodes"]
    assert added["lines"]["totalCount"] == 3
    assert [(line["amount"], line["type"]) for line in lines] == [(2500, "INVOICEITEM"), (900, "INVOICEITEM"),
                                                                (1000, "INVOICEITEM")]
    assert lines[0]["metadata"] == {"hours": "5"} and lines[0]["invoiceItem"]["description"] == "Consulting"
    assert lines[1]["price"]["id"] == price and lines[1]["quantity"] == 2
    assert lines[2]["invoiceItem"]["id"] == pending["id"]
    assert (added["subtotal"], added["total"]) == (4400, 4400)
    assert await pending_ids(api, customer) == []
    types = await events_of(api, draft["id"])
    assert "invoice.updated" in types
    created = await api.ok("query { events(first: 100, type: \"invoiceitem.created\") { nodes { id } } }")
    assert len(created["events"]["nodes"]) == 3


async def test_add_lines_refuses_bad_items_and_writes_nothing(api):
    customer = await create_customer(api, None)
    other = await create_customer(api, None)
    draft = await create_invoice(api, customer)
    theirs = await create_item(api, other, amount=100, currency="usd")
    euros = await create_item(api, customer, amount=100, currency="eur")
    elsewhere = await create_invoice(api, customer)
    taken = await create_item(api, customer, amount=100, currency="usd", invoice=elsewhere["id"])
    cases = [
        ({"invoiceItem": theirs["id"]}, "lines.1.invoiceItem", "resource_missing"),
        ({"invoiceItem": euros["id"]}, "lines.1.invoiceItem", "parameter_invalid"),
        ({"invoiceItem": taken["id"]}, "lines.1.invoiceItem", "parameter_invalid"),
        ({"price": "price_nope"}, "lines.1.price", "resource_missing"),
        ({"description": "no amount"}, "lines.1.amount", "parameter_missing"),
    ]
    for bad, param, code in cases:
        error = await api.error(ADD, {"id": draft["id"], "lines": [{"amount": 5}, bad]})
        assert (error["extensions"]["param"], error["extensions"]["code"]) == (param, code), error
    state = await invoice(api, draft["id"])
    assert state["lines"]["totalCount"] == 0 and state["total"] == 0
    assert set(await pending_ids(api, customer)) == {euros["id"]}


async def test_remove_lines_delete_and_unassign(api):
    customer = await create_customer(api, None)
    draft = await create_invoice(api, customer)
    added = await add_lines(api, draft["id"], [{"amount": 100}, {"amount": 200}, {"amount": 400}])
    keep, delete, unassign = added["lines"]["nodes"]
    removed = (await api.ok(REMOVE, {"id": draft["id"], "lines": [
        {"id": delete["id"], "behavior": "DELETE"}, {"id": unassign["id"], "behavior": "UNASSIGN"}]}))
    removed = removed["removeInvoiceLines"]
    assert removed["total"] == 100 and [n["id"] for n in removed["lines"]["nodes"]] == [keep["id"]]
    assert await pending_ids(api, customer) == [unassign["invoiceItem"]["id"]]
    assert await events_of(api, delete["invoiceItem"]["id"]) == ["invoiceitem.created", "invoiceitem.deleted"]
    items = await api.ok("query($c: ID!) { invoiceItems(customer: $c) { nodes { id invoice { id } } } }",
                         {"c": customer})
    assert {n["id"]: n["invoice"] for n in items["invoiceItems"]["nodes"]} == {
        keep["invoiceItem"]["id"]: {"id": draft["id"]}, unassign["invoiceItem"]["id"]: None}
    # the unassigned item can join another invoice
    other = await create_invoice(api, customer, pendingInvoiceItemsBehavior="INCLUDE")
    assert other["total"] == 400
    missing = await api.error(REMOVE, {"id": draft["id"], "lines": [{"id": delete["id"], "behavior": "DELETE"}]})
    assert missing["extensions"]["code"] == "resource_missing"


async def test_a_renewal_draft_keeps_its_subscription_lines_and_cannot_be_deleted(api, run_worker):
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, await create_price(api, 1000))
    await advance(api, run_worker, clock, datetime(2026, 2, 28, 12, 30, tzinfo=UTC))
    renewal = (await invoices_of(api, sub["id"]))[-1]
    assert renewal["status"] == "DRAFT" and renewal["billingReason"] == "SUBSCRIPTION_CYCLE"
    line = (await invoice(api, renewal["id"]))["lines"]["nodes"][0]
    assert line["type"] == "SUBSCRIPTION"
    page = await api.ok(PAGE, {"id": renewal["id"], "first": 1})
    error = await api.error(REMOVE, {"id": renewal["id"], "lines": [
        {"id": page["invoice"]["lines"]["nodes"][0]["id"], "behavior": "UNASSIGN"}]})
    assert error["extensions"]["param"] == "lines.0.behavior"
    refused = await api.error("mutation($id: ID!) { deleteInvoice(id: $id) { id } }", {"id": renewal["id"]})
    assert refused["extensions"]["type"] == "invalid_request_error"
    assert (await invoice(api, renewal["id"]))["total"] == 1000


async def test_update_lines(api):
    customer = await create_customer(api, None)
    price = await one_time_price(api, 300)
    draft = await create_invoice(api, customer)
    added = await add_lines(api, draft["id"], [{"price": price, "quantity": 1},
                                               {"amount": 1000, "metadata": {"a": "1"}}])
    by_price, by_amount = added["lines"]["nodes"]
    updated = (await api.ok(UPDATE, {"id": draft["id"], "meta": {"x": "y"}, "lines": [
        {"id": by_price["id"], "quantity": 4},
        {"id": by_amount["id"], "amount": 1500, "description": "Renamed", "discountable": False,
         "metadata": {"b": "2"}, "period": {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z"}},
    ]}))["updateInvoiceLines"]
    first, second = updated["lines"]["nodes"]
    assert (first["amount"], first["quantity"]) == (1200, 4)
    assert (second["amount"], second["description"], second["discountable"]) == (1500, "Renamed", False)
    assert second["metadata"] == {"a": "1", "b": "2"}
    assert second["period"] == {"start": "2026-01-01T00:00:00+00:00", "end": "2026-02-01T00:00:00+00:00"}
    assert second["invoiceItem"] == {"id": by_amount["invoiceItem"]["id"], "amount": 1500, "description": "Renamed"}
    assert first["invoiceItem"]["amount"] == 1200
    assert updated["total"] == 2700 and updated["metadata"] == {"x": "y"}
    bad = await api.error(UPDATE, {"id": draft["id"], "lines": [{"id": by_amount["id"], "quantity": -1}]})
    assert bad["extensions"]["param"] == "lines.0.quantity"
    huge = await api.error(UPDATE, {"id": draft["id"], "lines": [{"id": by_amount["id"], "amount": 10**15}]})
    assert huge["extensions"]["param"] == "lines.0.amount"
    assert (await invoice(api, draft["id"]))["total"] == 2700


@pytest.mark.parametrize("status", ["OPEN", "PAID", "VOID"])
async def test_line_edits_need_a_draft(api, status):
    customer = await create_customer(api, None)
    pending = await create_item(api, customer, amount=10, currency="usd")
    draft = await create_invoice(api, customer)
    line = (await add_lines(api, draft["id"], [{"amount": 700}]))["lines"]["nodes"][0]
    await transition(api, "finalizeInvoice", draft["id"])
    if status != "OPEN":
        await transition(api, "payInvoice" if status == "PAID" else "voidInvoice", draft["id"])
    before = await invoice(api, draft["id"])
    for query, lines in [(ADD, [{"amount": 1}]), (ADD, [{"invoiceItem": pending["id"]}]),
                         (REMOVE, [{"id": line["id"], "behavior": "DELETE"}]),
                         (REMOVE, [{"id": line["id"], "behavior": "UNASSIGN"}]),
                         (UPDATE, [{"id": line["id"], "amount": 1}])]:
        error = await api.error(query, {"id": draft["id"], "lines": lines})
        assert error["extensions"]["type"] == "invalid_request_error", error
    assert await invoice(api, draft["id"]) == before
    assert await pending_ids(api, customer) == [pending["id"]]


async def test_lines_page_in_order_with_total_count(api):
    customer = await create_customer(api, None)
    draft = await create_invoice(api, customer)
    await add_lines(api, draft["id"], [{"amount": 100 + i} for i in range(25)])
    seen, after, pages = [], None, 0
    while True:
        data = (await api.ok(PAGE, {"id": draft["id"], "first": 10, "after": after}))["invoice"]["lines"]
        assert data["totalCount"] == 25
        assert data["pageInfo"]["hasPreviousPage"] == (after is not None)
        seen += [n["amount"] for n in data["nodes"]]
        pages += 1
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert pages == 3 and seen == [100 + i for i in range(25)]
    # removing a line keeps the order of the others and the count
    first_page = (await api.ok(PAGE, {"id": draft["id"], "first": 1}))["invoice"]["lines"]
    await api.ok(REMOVE, {"id": draft["id"], "lines": [{"id": first_page["nodes"][0]["id"], "behavior": "DELETE"}]})
    rest = (await api.ok(PAGE, {"id": draft["id"], "first": 100}))["invoice"]["lines"]
    assert rest["totalCount"] == 24 and [n["amount"] for n in rest["nodes"]] == [101 + i for i in range(24)]
    bad = await api.error(PAGE, {"id": draft["id"], "first": 101})
    assert bad["extensions"]["param"] == "first"
