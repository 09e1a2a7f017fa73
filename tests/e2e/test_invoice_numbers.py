"""Invoice numbers: <invoicePrefix>-0001, -0002 ... per customer, taken at finalization, gapless, unique
by a database constraint, and exact when many finalizations race (PostgreSQL)."""
import asyncio

import pytest
from tortoise.exceptions import IntegrityError

from app.models.customers import Customer
from app.models.invoices import Invoice
from tests.billing_flows import create_clock, create_customer, create_price, invoices_of, subscribe
from tests.e2e.test_invoices_manual import create_invoice, create_item, invoice, transition

FINALIZE = "mutation($id: ID!) { finalizeInvoice(id: $id) { id number status } }"


async def draft_with_item(api, customer: str, amount: int = 1000) -> str:
    draft = await create_invoice(api, customer)
    await create_item(api, customer, amount=amount, currency="usd", invoice=draft["id"])
    return draft["id"]


async def finalize(api, id: str) -> str:
    return (await api.ok(FINALIZE, {"id": id}))["finalizeInvoice"]["number"]


async def test_numbers_per_customer_at_finalization(api):
    acme = await create_customer(api, None, invoicePrefix="ACME")
    other = await create_customer(api, None)
    prefix = (await api.ok("query($id: ID!) { customer(id: $id) { invoicePrefix } }", {"id": other}))
    prefix = prefix["customer"]["invoicePrefix"]
    first, second = await draft_with_item(api, acme), await draft_with_item(api, acme)
    theirs = await draft_with_item(api, other)
    assert (await invoice(api, first))["number"] is None
    assert await finalize(api, second) == "ACME-0001"
    assert await finalize(api, theirs) == f"{prefix}-0001"
    assert await finalize(api, first) == "ACME-0002"
    await transition(api, "voidInvoice", first)
    assert (await invoice(api, first))["number"] == "ACME-0002"
    zero = await create_invoice(api, acme)
    paid = await api.ok(FINALIZE, {"id": zero["id"]})
    assert paid["finalizeInvoice"] == {"id": zero["id"], "number": "ACME-0003", "status": "PAID"}


async def test_deleted_drafts_take_no_number(api):
    customer = await create_customer(api, None, invoicePrefix="GAPLESS")
    drafts = [await draft_with_item(api, customer) for _ in range(4)]
    for id in drafts[1:3]:
        await api.ok("mutation($id: ID!) { deleteInvoice(id: $id) { id } }", {"id": id})
    assert [await finalize(api, id) for id in (drafts[3], drafts[0])] == ["GAPLESS-0001", "GAPLESS-0002"]


async def test_a_failed_finalization_takes_no_number(api):
    customer = await create_customer(api, None, invoicePrefix="ROLLBACK")
    opened = await draft_with_item(api, customer)
    assert await finalize(api, opened) == "ROLLBACK-0001"
    error = await api.error(FINALIZE, {"id": opened})
    assert error["extensions"]["type"] == "invalid_request_error"
    assert await finalize(api, await draft_with_item(api, customer)) == "ROLLBACK-0002"


async def test_subscription_and_manual_invoices_share_the_sequence(api):
    clock = await create_clock(api)
    customer = await create_customer(api, clock, invoicePrefix="SHARED")
    sub = await subscribe(api, customer, await create_price(api, 1500))
    assert (await invoices_of(api, sub["id"]))[0]["number"] == "SHARED-0001"
    assert await finalize(api, await draft_with_item(api, customer)) == "SHARED-0002"


async def test_numbers_are_unique_by_a_database_constraint(api):
    first_customer = await create_customer(api, None, invoicePrefix="UNIQ")
    first = await draft_with_item(api, first_customer)
    second = await draft_with_item(api, first_customer)
    assert await finalize(api, first) == "UNIQ-0001"
    with pytest.raises(IntegrityError):
        await Invoice.filter(id=second).update(number="UNIQ-0001")


async def test_concurrent_finalizations_are_gapless(pg_api):
    api = pg_api
    customer = await create_customer(api, None, invoicePrefix="RACE")
    drafts = [await draft_with_item(api, customer, 100 + i) for i in range(10)]
    numbers = await asyncio.gather(*(finalize(api, id) for id in drafts))
    assert sorted(numbers) == [f"RACE-{n:04d}" for n in range(1, 11)]
    assert (await Customer.get(id=customer)).next_invoice_sequence == 11
    stored = await Invoice.filter(customer_id=customer).values_list("number", flat=True)
    assert sorted(stored) == sorted(numbers)


async def test_finalizing_one_draft_twice_at_once_takes_one_number(pg_api):
    api = pg_api
    customer = await create_customer(api, None, invoicePrefix="TWICE")
    draft = await draft_with_item(api, customer)
    results = await asyncio.gather(*(api.post(FINALIZE, {"id": draft}) for _ in range(5)))
    bodies = [body for _, body in results]
    ok = [b for b in bodies if not b.get("errors")]
    refused = [b["errors"][0]["extensions"]["type"] for b in bodies if b.get("errors")]
    assert len(ok) == 1 and ok[0]["data"]["finalizeInvoice"]["number"] == "TWICE-0001"
    assert refused == ["invalid_request_error"] * 4
    assert await finalize(api, await draft_with_item(api, customer)) == "TWICE-0002"
