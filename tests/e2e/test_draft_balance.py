"""Drafts preview the customer balance through HTTP, as Stripe's do: until finalization startingBalance is
the customer's current balance and amountDue what finalizing now would leave due; endingBalance stays null."""
from datetime import UTC, datetime, timedelta

from tests.billing_flows import advance, create_clock, create_customer, create_price, invoices_of, subscribe
from tests.e2e.test_invoice_totals import adjust_balance, finalize, manual, totals
from tests.e2e.test_invoices_manual import create_item


def due(invoice: dict) -> tuple:
    return invoice["status"], invoice["total"], invoice["startingBalance"], invoice["amountDue"], \
        invoice["amountRemaining"], invoice["endingBalance"]


async def test_a_draft_follows_the_customer_balance_until_finalized(api):
    customer = await create_customer(api, None)
    await adjust_balance(api, customer, -1500)
    small = await manual(api, customer, [1000])
    assert due(await totals(api, small)) == ("DRAFT", 1000, -1500, 0, 0, None)
    await adjust_balance(api, customer, 1000)  # the credit is now 500
    assert due(await totals(api, small)) == ("DRAFT", 1000, -500, 500, 500, None)
    large = await manual(api, customer, [2000])
    assert due(await totals(api, large)) == ("DRAFT", 2000, -500, 1500, 1500, None)

    assert due(await finalize(api, small)) == ("OPEN", 1000, -500, 500, 500, 0)
    assert due(await totals(api, large)) == ("DRAFT", 2000, 0, 2000, 2000, None)  # the credit was used
    await api.ok("mutation($id: ID!) { voidInvoice(id: $id) { id } }", {"id": small})
    assert due(await totals(api, large)) == ("DRAFT", 2000, -500, 1500, 1500, None)  # and given back
    await create_item(api, customer, amount=-1800, currency="usd", invoice=large)
    assert due(await totals(api, large)) == ("DRAFT", 200, -500, 0, 0, None)
    assert due(await finalize(api, large)) == ("PAID", 200, -500, 0, 0, -300)


async def test_a_debit_balance_adds_to_a_draft(api):
    customer = await create_customer(api, None)
    await adjust_balance(api, customer, 250)
    draft = await manual(api, customer, [1000])
    assert due(await totals(api, draft)) == ("DRAFT", 1000, 250, 1250, 1250, None)
    assert due(await finalize(api, draft)) == ("OPEN", 1000, 250, 1250, 1250, 0)


async def test_a_balance_in_another_currency_is_not_previewed(api, run_worker):
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    await adjust_balance(api, customer, -500, currency="eur")
    sub = await subscribe(api, customer, await create_price(api, 2000))
    await advance(api, run_worker, clock, datetime(2026, 2, 28, 12, 30, tzinfo=UTC))
    assert due((await invoices_of(api, sub["id"]))[-1]) == ("DRAFT", 2000, 0, 2000, 2000, None)


async def test_a_renewal_draft_previews_the_credit(api, run_worker):
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, await create_price(api, 2000))
    await adjust_balance(api, customer, -700)
    renewal_at = datetime(2026, 2, 28, 12, tzinfo=UTC)
    await advance(api, run_worker, clock, renewal_at + timedelta(minutes=30))
    draft = (await invoices_of(api, sub["id"]))[-1]
    assert due(draft) == ("DRAFT", 2000, -700, 1300, 1300, None)
    await advance(api, run_worker, clock, renewal_at + timedelta(hours=2))
    paid = await totals(api, draft["id"])
    assert due(paid) == ("PAID", 2000, -700, 1300, 0, 0) and paid["amountPaid"] == 1300
