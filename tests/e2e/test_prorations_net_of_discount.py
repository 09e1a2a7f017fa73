"""Prorations net of the subscription's discount, through HTTP on a test clock (Stripe's itemized proration
discounts): each proration line carries the discount it took when the change was made, and the invoice's
total is net of it. The clock starts on Apr 1 2026: a monthly period is 30 days and Apr 16 is half."""
from tests.billing_flows import advance, create_price, invoices_of
from tests.e2e.test_invoice_totals import balance_of, coupon
from tests.e2e.test_subscription_updates import AFTER_RENEWAL, HALF, item_id, start, update
from tests.e2e.test_upcoming_invoice import preview


def net_lines(invoice: dict) -> list[tuple]:
    """(amount, description, discount taken) of each line."""
    return [(line["amount"], line.get("description"), sum(d["amount"] for d in line["discountAmounts"]))
            for line in invoice["lines"]["nodes"]]


LINES = "lines(first: 100) { nodes { amount description proration discountAmounts { amount discount { id } } } }"
UPCOMING = f"""query($s: ID) {{ upcomingInvoice(subscription: $s) {{ subtotal total
  totalDiscountAmounts {{ amount }} {LINES} }} }}"""
INVOICE = f"""query($id: ID!) {{ invoice(id: $id) {{ status subtotal total amountPaid discounts {{ id }}
  totalDiscountAmounts {{ amount discount {{ id }} }} {LINES} }} }}"""


async def test_amount_off_prorations_bear_the_coupon_in_proportion(api, run_worker):
    ten_off = await coupon(api, amountOff=1000, currency="usd")
    clock, customer, _, sub = await start(api, coupon=ten_off)  # $30 - $10
    assert sub["latestInvoice"]["total"] == 2000
    premium = await create_price(api, 6000, name="Premium")
    await advance(api, run_worker, clock, HALF)
    await update(api, sub["id"], items=[{"id": item_id(sub), "price": premium}])
    upcoming = (await api.ok(UPCOMING, {"s": sub["id"]}))["upcomingInvoice"]
    # $10 off $30 is a third of the unused half; $10 off $60 a sixth of the remaining half
    expected = [(6000, "1 × Premium", 1000),
                (-1500, "Unused time on Basic after 16 Apr 2026", -500),
                (3000, "Remaining time on Premium after 16 Apr 2026", 500)]
    assert net_lines(upcoming) == expected
    assert (upcoming["subtotal"], upcoming["total"]) == (7500, 6500)
    await advance(api, run_worker, clock, AFTER_RENEWAL)
    renewal = (await api.ok(INVOICE, {"id": (await invoices_of(api, sub["id"]))[-1]["id"]}))["invoice"]
    assert net_lines(renewal) == expected
    assert (renewal["status"], renewal["subtotal"], renewal["total"], renewal["amountPaid"]) == (
        "PAID", 7500, 6500, 6500)
    discount = renewal["discounts"][0]["id"]
    assert renewal["totalDiscountAmounts"] == [{"amount": 1000, "discount": {"id": discount}}]


async def test_percent_off_credit_on_cancel_is_what_was_paid(api, run_worker):
    half_off = await coupon(api, percentOff="50")
    clock, customer, _, sub = await start(api, coupon=half_off)
    await advance(api, run_worker, clock, HALF)
    canceled = await api.ok("mutation($id: ID!) { cancelSubscription(id: $id, input: {prorate: true, invoiceNow: true})"
                            " { status latestInvoice { id } } }", {"id": sub["id"]})
    final = (await api.ok(INVOICE, {"id": canceled["cancelSubscription"]["latestInvoice"]["id"]}))["invoice"]
    assert net_lines(final) == [(-1500, "Unused time on Basic after 16 Apr 2026", -750)]
    assert (final["subtotal"], final["total"], final["status"]) == (-1500, -750, "PAID")
    assert (await balance_of(api, customer))["balance"] == -750  # half of the 1500 paid, not 1500


async def test_a_customer_discount_applies_to_prorations_too(api, run_worker):
    clock, customer, _, sub = await start(api)
    await api.ok("mutation($id: ID!, $c: ID!) { updateCustomer(id: $id, input: {coupon: $c}) { id } }",
                 {"id": customer, "c": await coupon(api, percentOff="20")})
    await advance(api, run_worker, clock, HALF)
    change = {"items": [{"id": item_id(sub), "quantity": 3}], "prorationBehavior": "ALWAYS_INVOICE"}
    previewed = await preview(api, sub["id"], **change)
    invoice = (await update(api, sub["id"], **change))["latestInvoice"]
    stored = (await api.ok(INVOICE, {"id": invoice["id"]}))["invoice"]
    assert net_lines(stored) == [(-1500, "Unused time on Basic after 16 Apr 2026", -300),
                                 (4500, "Remaining time on 3 × Basic after 16 Apr 2026", 900)]
    assert stored["total"] == previewed["total"] == 3000 - 600


async def test_no_discount_no_discount_amounts(api, run_worker):
    clock, customer, _, sub = await start(api)
    await advance(api, run_worker, clock, HALF)
    invoice = (await update(api, sub["id"], items=[{"id": item_id(sub), "quantity": 2}],
                            prorationBehavior="ALWAYS_INVOICE"))["latestInvoice"]
    stored = (await api.ok(INVOICE, {"id": invoice["id"]}))["invoice"]
    assert [d for line in stored["lines"]["nodes"] for d in line["discountAmounts"]] == []
    assert stored["subtotal"] == stored["total"] == 1500
