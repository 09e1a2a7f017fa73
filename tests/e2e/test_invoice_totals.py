"""Invoice totals through HTTP: coupon discounts (percent, amount, durations, limits, products, prorations),
redemptions under concurrency, then the customer balance and what is due, paid and remaining."""
import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app.clock import utcnow
from tests.billing_flows import (
    START,
    advance,
    create_clock,
    create_customer,
    create_price,
    invoices_of,
    subscribe,
)
from tests.e2e.test_invoices_manual import CREATE_INVOICE, create_invoice, create_item, one_time_price

LINES = """lines(first: 100) { nodes { amount discountable proration discountAmounts { amount discount { id } } } }"""
TOTALS = f"""query($id: ID!) {{ invoice(id: $id) {{ status subtotal total amountDue amountPaid amountRemaining
  startingBalance endingBalance totalDiscountAmounts {{ amount discount {{ id coupon {{ id }} }} }}
  discounts {{ id }} {LINES} }} }}"""
COUPON = "query($id: ID!) { coupon(id: $id) { timesRedeemed valid } }"
BALANCE = """query($id: ID!) { customer(id: $id) { balance discount { id }
  balanceTransactions(first: 100) { nodes { amount type endingBalance } } } }"""


async def coupon(api, **fields) -> str:
    data = await api.ok("mutation($input: CreateCouponInput!) { createCoupon(input: $input) { id } }",
                        {"input": {"duration": "FOREVER", **fields}})
    return data["createCoupon"]["id"]


async def totals(api, id: str) -> dict:
    return (await api.ok(TOTALS, {"id": id}))["invoice"]


async def finalize(api, id: str) -> dict:
    await api.ok("mutation($id: ID!) { finalizeInvoice(id: $id) { id } }", {"id": id})
    return await totals(api, id)


async def manual(api, customer: str, amounts: list[int], *, coupon_id: str | None = None,
                 non_discountable: tuple[int, ...] = ()) -> str:
    """A draft with one invoice item per amount (a coupon on the invoice when given)."""
    fields = {"coupon": coupon_id} if coupon_id else {}
    draft = await create_invoice(api, customer, **fields)
    for amount in amounts:
        await create_item(api, customer, amount=amount, currency="usd", invoice=draft["id"],
                          discountable=amount not in non_discountable)
    return draft["id"]


async def balance_of(api, customer: str) -> dict:
    return (await api.ok(BALANCE, {"id": customer}))["customer"]


async def adjust_balance(api, customer: str, amount: int, currency: str = "usd") -> None:
    await api.ok("mutation($input: CustomerBalanceTransactionInput!) { createCustomerBalanceTransaction("
                 "input: $input) { id } }", {"input": {"customer": customer, "amount": amount, "currency": currency}})


def line_discounts(inv: dict) -> list[int]:
    return [sum(d["amount"] for d in line["discountAmounts"]) for line in inv["lines"]["nodes"]]


# ---------------------------------------------------------------- coupons

async def test_percent_off_per_line_rounded_half_up(api):
    customer = await create_customer(api, None)
    twelve_and_a_half = await coupon(api, percentOff="12.5")
    id = await manual(api, customer, [999, 501, 300], coupon_id=twelve_and_a_half, non_discountable=(300,))
    inv = await totals(api, id)
    assert line_discounts(inv) == [125, 63, 0]
    assert inv["subtotal"] == 1800 and inv["total"] == 1612 and inv["amountDue"] == 1612
    assert [d["amount"] for d in inv["totalDiscountAmounts"]] == [188]
    discount = inv["discounts"][0]["id"]
    assert inv["totalDiscountAmounts"][0]["discount"] == {"id": discount, "coupon": {"id": twelve_and_a_half}}
    assert (await api.ok(COUPON, {"id": twelve_and_a_half}))["coupon"] == {"timesRedeemed": 1, "valid": True}
    assert (await balance_of(api, customer))["discount"] is None, "an invoice's discount is not the customer's"
    paid = await finalize(api, id)
    assert paid["status"] == "OPEN" and paid["total"] == 1612 and paid["amountRemaining"] == 1612


async def test_amount_off_split_in_proportion_with_an_exact_sum(api):
    customer = await create_customer(api, None)
    hundred = await coupon(api, amountOff=100, currency="usd")
    id = await manual(api, customer, [100, 100, 100, 5000], coupon_id=hundred, non_discountable=(5000,))
    inv = await totals(api, id)
    assert line_discounts(inv) == [34, 33, 33, 0]
    assert inv["total"] == 5300 - 100 and inv["totalDiscountAmounts"][0]["amount"] == 100
    uneven = await manual(api, customer, [1, 2, 997], coupon_id=await coupon(api, amountOff=333, currency="usd"))
    inv = await totals(api, uneven)
    assert sum(line_discounts(inv)) == 333 and line_discounts(inv) == [0, 1, 332]
    capped = await manual(api, customer, [400, 200, 900], coupon_id=await coupon(api, amountOff=5000, currency="usd"),
                          non_discountable=(900,))
    inv = await totals(api, capped)
    assert line_discounts(inv) == [400, 200, 0] and inv["total"] == 900


async def test_a_discount_never_becomes_credit(api):
    customer = await create_customer(api, None)
    half = await coupon(api, percentOff="50")
    id = await manual(api, customer, [2000, -1800], coupon_id=half, non_discountable=(-1800,))
    inv = await finalize(api, id)
    assert line_discounts(inv) == [200, 0] and (inv["total"], inv["endingBalance"]) == (0, 0)
    assert (await balance_of(api, customer))["balance"] == 0


async def test_amount_off_coupon_in_another_currency_is_refused(api):
    customer = await create_customer(api, None)
    euros = await coupon(api, amountOff=100, currency="eur")
    error = await api.error(CREATE_INVOICE, {"input": {"customer": customer, "coupon": euros}})
    assert (error["extensions"]["type"], error["extensions"]["param"]) == ("invalid_request_error", "coupon")
    assert (await api.ok(COUPON, {"id": euros}))["coupon"]["timesRedeemed"] == 0


async def test_applies_to_products(api):
    customer = await create_customer(api, None)
    included, excluded = await one_time_price(api, 1000), await one_time_price(api, 1000)
    product = (await api.ok("query($id: ID!) { price(id: $id) { product { id } } }", {"id": included}))
    half_of_one = await coupon(api, percentOff="50", appliesToProducts=[product["price"]["product"]["id"]])
    draft = await create_invoice(api, customer, coupon=half_of_one)
    for price in (included, excluded):
        await create_item(api, customer, price=price, invoice=draft["id"])
    await create_item(api, customer, amount=500, currency="usd", invoice=draft["id"])
    inv = await totals(api, draft["id"])
    assert line_discounts(inv) == [500, 0, 0] and inv["total"] == 2000


async def test_max_redemptions_and_redeem_by_are_checked_when_applying(api):
    customer = await create_customer(api, None)
    twice = await coupon(api, percentOff="10", maxRedemptions=2)
    for _ in range(2):
        await create_invoice(api, customer, coupon=twice)
    error = await api.error(CREATE_INVOICE, {"input": {"customer": customer, "coupon": twice}})
    assert (error["extensions"]["type"], error["extensions"]["param"]) == ("invalid_request_error", "coupon")
    assert (await api.ok(COUPON, {"id": twice}))["coupon"] == {"timesRedeemed": 2, "valid": False}
    listed = await api.ok("query($c: ID!) { invoices(customer: $c) { nodes { id } } }", {"c": customer})
    assert len(listed["invoices"]["nodes"]) == 2, "the refused createInvoice wrote nothing"

    soon = utcnow() + timedelta(days=1)
    expiring = await coupon(api, percentOff="10", redeemBy=soon.isoformat())
    later = await create_customer(api, await create_clock(api, soon + timedelta(days=1)))
    for mutation, variables in [
        (CREATE_INVOICE, {"input": {"customer": later, "coupon": expiring}}),
        ("mutation($id: ID!, $c: ID!) { updateCustomer(id: $id, input: {coupon: $c}) { id } }",
         {"id": later, "c": expiring}),
    ]:
        error = await api.error(mutation, variables)
        assert error["extensions"]["type"] == "invalid_request_error", error
    sub_error = await api.error(
        "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id } }",
        {"input": {"customer": later, "items": [{"price": await create_price(api, 1000)}], "coupon": expiring}})
    assert sub_error["extensions"]["param"] == "coupon"
    assert (await api.ok(COUPON, {"id": expiring}))["coupon"]["timesRedeemed"] == 0
    await create_invoice(api, customer, coupon=expiring)
    assert (await api.ok(COUPON, {"id": expiring}))["coupon"]["timesRedeemed"] == 1


async def test_redemptions_stay_exact_under_concurrency(pg_api):
    api = pg_api
    limited = await coupon(api, percentOff="20", maxRedemptions=5)
    unlimited = await coupon(api, amountOff=100, currency="usd")
    customers = [await create_customer(api, None) for _ in range(12)]
    results = await asyncio.gather(*(api.post(CREATE_INVOICE, {"input": {"customer": c, "coupon": limited}})
                                     for c in customers))
    ok = [body for _, body in results if not body.get("errors")]
    refused = [body["errors"][0]["extensions"]["type"] for _, body in results if body.get("errors")]
    assert len(ok) == 5 and refused == ["invalid_request_error"] * 7
    assert (await api.ok(COUPON, {"id": limited}))["coupon"] == {"timesRedeemed": 5, "valid": False}
    await asyncio.gather(*(create_invoice(api, c, coupon=unlimited) for c in customers[:10]))
    assert (await api.ok(COUPON, {"id": unlimited}))["coupon"] == {"timesRedeemed": 10, "valid": True}


@pytest.mark.parametrize(("duration", "months", "expected"), [
    ("ONCE", None, [1000, 2000, 2000]),
    ("REPEATING", 2, [1000, 1000, 2000]),
    ("FOREVER", None, [1000, 1000, 1000]),
])
async def test_subscription_coupon_durations_across_renewals(api, run_worker, duration, months, expected):
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    fields = {"durationInMonths": months} if months else {}
    half = await coupon(api, percentOff="50", duration=duration, **fields)
    sub = await subscribe(api, customer, await create_price(api, 2000), coupon=half)
    await advance(api, run_worker, clock, datetime(2026, 3, 1, tzinfo=UTC))
    await advance(api, run_worker, clock, datetime(2026, 4, 1, tzinfo=UTC))
    invoices = await invoices_of(api, sub["id"])
    assert [i["total"] for i in invoices] == expected
    assert [i["amountPaid"] for i in invoices] == expected and {i["status"] for i in invoices} == {"PAID"}
    assert (await api.ok(COUPON, {"id": half}))["coupon"]["timesRedeemed"] == 1


async def test_once_customer_coupon_discounts_one_invoice(api):
    customer = await create_customer(api, None)
    once = await coupon(api, amountOff=300, currency="usd", duration="ONCE")
    await api.ok("mutation($id: ID!, $c: ID!) { updateCustomer(id: $id, input: {coupon: $c}) { id } }",
                 {"id": customer, "c": once})
    first, second = await manual(api, customer, [1000]), await manual(api, customer, [1000])
    assert (await totals(api, first))["total"] == 700 and (await totals(api, second))["total"] == 700
    assert (await finalize(api, first))["total"] == 700
    assert (await finalize(api, second))["total"] == 1000, "a ONCE discount applies to one invoice only"
    assert (await totals(api, await manual(api, customer, [1000])))["total"] == 1000


async def test_proration_lines_carry_the_subscription_discount(api):
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    half = await coupon(api, percentOff="50")
    sub = await subscribe(api, customer, await create_price(api, 3000), coupon=half)
    await api.ok("mutation($id: ID!, $input: UpdateSubscriptionInput!) { updateSubscription(id: $id, input: $input) "
                 "{ id } }", {"id": sub["id"], "input": {
                     "items": [{"id": sub["items"]["nodes"][0]["id"], "quantity": 2}],
                     "prorationBehavior": "ALWAYS_INVOICE", "prorationDate": (START + timedelta(days=14)).isoformat()}})
    update = next(i for i in await invoices_of(api, sub["id"]) if i["billingReason"] == "SUBSCRIPTION_UPDATE")
    inv = await totals(api, update["id"])
    prorations = [line for line in inv["lines"]["nodes"] if line["proration"]]
    assert len(prorations) == 2 and not any(line["discountable"] for line in prorations)
    discount = (await totals(api, sub["latestInvoice"]["id"]))["discounts"][0]["id"]
    gross = [line["amount"] for line in prorations]
    assert gross[0] < 0 < gross[1]
    # each proration takes the subscription's 50% (half-up on its absolute amount), a credit's discount negative
    halves = [(abs(a) + 1) // 2 * (1 if a > 0 else -1) for a in gross]
    assert [[(d["amount"], d["discount"]["id"]) for d in line["discountAmounts"]] for line in prorations] == [
        [(h, discount)] for h in halves]
    assert inv["totalDiscountAmounts"][0]["amount"] == sum(halves)
    assert inv["total"] == sum(gross) - sum(halves) > 0


# ---------------------------------------------------------------- customer balance

async def test_credit_balance_reduces_what_is_due(api):
    customer = await create_customer(api, None)
    await adjust_balance(api, customer, -1500)
    first = await finalize(api, await manual(api, customer, [1000]))
    assert (first["startingBalance"], first["endingBalance"]) == (-1500, -500)
    assert (first["total"], first["amountDue"], first["amountPaid"], first["amountRemaining"]) == (1000, 0, 0, 0)
    assert first["status"] == "PAID"
    second = await finalize(api, await manual(api, customer, [1000]))
    assert (second["startingBalance"], second["endingBalance"], second["amountDue"]) == (-500, 0, 500)
    assert second["status"] == "OPEN" and second["amountRemaining"] == 500
    state = await balance_of(api, customer)
    assert state["balance"] == 0
    applied = [t for t in state["balanceTransactions"]["nodes"] if t["type"] == "applied_to_invoice"]
    assert sorted((t["amount"], t["endingBalance"]) for t in applied) == [(500, 0), (1000, -500)]


async def test_debit_balance_adds_to_what_is_due(api):
    customer = await create_customer(api, None)
    await adjust_balance(api, customer, 300)
    opened = await finalize(api, await manual(api, customer, [1000]))
    assert (opened["startingBalance"], opened["endingBalance"], opened["amountDue"]) == (300, 0, 1300)
    await api.ok("mutation($id: ID!) { payInvoice(id: $id) { id } }", {"id": (await invoices(api, customer))[0]})
    paid = await totals(api, (await invoices(api, customer))[0])
    assert (paid["status"], paid["amountPaid"], paid["amountRemaining"]) == ("PAID", 1300, 0)
    assert (await balance_of(api, customer))["balance"] == 0


async def invoices(api, customer: str) -> list[str]:
    data = await api.ok("query($c: ID!) { invoices(customer: $c, first: 100) { nodes { id } } }", {"c": customer})
    return [n["id"] for n in data["invoices"]["nodes"]]


async def test_negative_total_credits_the_customer(api):
    customer = await create_customer(api, None)
    credit = await finalize(api, await manual(api, customer, [300, -1000]))
    assert (credit["total"], credit["amountDue"], credit["endingBalance"], credit["status"]) == (-700, 0, -700, "PAID")
    state = await balance_of(api, customer)
    assert state["balance"] == -700
    assert [(t["amount"], t["type"]) for t in state["balanceTransactions"]["nodes"]] == [(-700, "applied_to_invoice")]
    next_one = await finalize(api, await manual(api, customer, [1000]))
    assert (next_one["startingBalance"], next_one["amountDue"]) == (-700, 300)


async def test_discount_then_balance(api):
    customer = await create_customer(api, None)
    await adjust_balance(api, customer, -100)
    inv = await finalize(api, await manual(api, customer, [999, 501], coupon_id=await coupon(api, percentOff="12.5")))
    assert (inv["subtotal"], inv["total"], inv["startingBalance"], inv["amountDue"]) == (1500, 1312, -100, 1212)


async def test_voiding_restores_the_balance(api):
    customer = await create_customer(api, None)
    await adjust_balance(api, customer, -1500)
    id = await manual(api, customer, [2000])
    opened = await finalize(api, id)
    assert opened["amountDue"] == 500 and (await balance_of(api, customer))["balance"] == 0
    await api.ok("mutation($id: ID!) { voidInvoice(id: $id) { id } }", {"id": id})
    voided = await totals(api, id)
    assert (voided["status"], voided["amountRemaining"], voided["amountPaid"]) == ("VOID", 0, 0)
    state = await balance_of(api, customer)
    assert state["balance"] == -1500
    assert sorted(t["type"] for t in state["balanceTransactions"]["nodes"]) == [
        "adjustment", "applied_to_invoice", "unapplied_from_invoice"]
    debit_id = await manual(api, customer, [700])
    await adjust_balance(api, customer, 1700)
    debit = await finalize(api, debit_id)
    assert (debit["startingBalance"], debit["amountDue"]) == (200, 900)
    await api.ok("mutation($id: ID!) { markInvoiceUncollectible(id: $id) { id } }", {"id": debit_id})
    await api.ok("mutation($id: ID!) { voidInvoice(id: $id) { id } }", {"id": debit_id})
    assert (await balance_of(api, customer))["balance"] == 200


async def test_balance_in_another_currency_is_not_applied(api):
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    await adjust_balance(api, customer, -500, currency="eur")
    sub = await subscribe(api, customer, await create_price(api, 2000))
    first = await totals(api, sub["latestInvoice"]["id"])
    assert (first["startingBalance"], first["amountDue"], first["amountPaid"]) == (0, 2000, 2000)
    assert (await balance_of(api, customer))["balance"] == -500


async def test_renewal_uses_the_credit_balance(api, run_worker):
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, await create_price(api, 2000))
    await adjust_balance(api, customer, -2500)
    await advance(api, run_worker, clock, datetime(2026, 3, 1, tzinfo=UTC))
    await advance(api, run_worker, clock, datetime(2026, 4, 1, tzinfo=UTC))
    first, second, third = await invoices_of(api, sub["id"])
    assert (second["startingBalance"], second["amountDue"], second["endingBalance"]) == (-2500, 0, -500)
    assert (third["startingBalance"], third["amountDue"], third["amountPaid"]) == (-500, 1500, 1500)
    assert (await balance_of(api, customer))["balance"] == 0
    assert first["amountPaid"] == 2000


async def test_concurrent_finalizations_share_credit_and_a_once_discount_exactly(pg_api):
    api = pg_api
    customer = await create_customer(api, None)
    await adjust_balance(api, customer, -1000)
    once = await coupon(api, amountOff=100, currency="usd", duration="ONCE")
    await api.ok("mutation($id: ID!, $c: ID!) { updateCustomer(id: $id, input: {coupon: $c}) { id } }",
                 {"id": customer, "c": once})
    drafts = [await manual(api, customer, [500]) for _ in range(4)]
    finalized = await asyncio.gather(*(finalize(api, id) for id in drafts))
    assert sorted(i["total"] for i in finalized) == [400, 500, 500, 500], "one invoice takes the ONCE discount"
    assert sum(i["amountDue"] for i in finalized) == 1900 - 1000, "the credit is used exactly once"
    state = await balance_of(api, customer)
    assert state["balance"] == 0
    applied = [t["amount"] for t in state["balanceTransactions"]["nodes"] if t["type"] == "applied_to_invoice"]
    assert sum(applied) == 1000
