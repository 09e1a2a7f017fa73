"""Coupons net of credit lines, through HTTP, as Stripe: a negative invoice item is not discountable unless
marked so; a discountable credit counts against the coupon (the discount works on the net discountable
amount and is split over the charges); a non-discountable credit only keeps the discount from becoming
customer credit."""
from tests.billing_flows import create_customer
from tests.e2e.test_invoice_totals import coupon, finalize, line_discounts, manual, totals
from tests.e2e.test_invoices_manual import create_invoice, create_item


async def test_a_negative_item_is_not_discountable_by_default(api):
    customer = await create_customer(api, None)
    credit = await create_item(api, customer, amount=-800, currency="usd")
    charge = await create_item(api, customer, amount=800, currency="usd")
    assert (credit["discountable"], charge["discountable"]) == (False, True)
    marked = await create_item(api, customer, amount=-800, currency="usd", discountable=True)
    assert marked["discountable"] is True
    draft = await create_invoice(api, customer, coupon=await coupon(api, percentOff="10"))
    lines = await api.ok("mutation($id: ID!) { addInvoiceLines(invoice: $id, lines: [{amount: -300}, {amount: 300}]) "
                         "{ lines { nodes { amount discountable } } } }", {"id": draft["id"]})
    assert [(n["amount"], n["discountable"]) for n in lines["addInvoiceLines"]["lines"]["nodes"]] == [
        (-300, False), (300, True)]


async def test_percent_off_works_on_the_net_of_discountable_credits(api):
    customer = await create_customer(api, None)
    half = await coupon(api, percentOff="50")
    net = await totals(api, await manual(api, customer, [3000, -1000], coupon_id=half))
    assert line_discounts(net) == [1000, 0] and net["total"] == 1000  # half of 2000
    gross = await totals(api, await manual(api, customer, [3000, -1000], coupon_id=await coupon(api, percentOff="50"),
                                           non_discountable=(-1000,)))
    assert line_discounts(gross) == [1500, 0] and gross["total"] == 500  # half of 3000


async def test_amount_off_never_exceeds_the_net_discountable_amount(api):
    customer = await create_customer(api, None)
    five_dollars = await coupon(api, amountOff=500, currency="usd")
    inv = await totals(api, await manual(api, customer, [1000, 2000, -800], coupon_id=five_dollars,
                                         non_discountable=(2000,)))
    assert line_discounts(inv) == [200, 0, 0], "1000 - 800 is all the coupon may take"
    assert (inv["subtotal"], inv["total"]) == (2200, 2000)
    other = await totals(api, await manual(api, customer, [1000, 2000, -800],
                                           coupon_id=await coupon(api, amountOff=500, currency="usd"),
                                           non_discountable=(2000, -800)))
    assert line_discounts(other) == [500, 0, 0] and other["total"] == 1700


async def test_a_discount_split_over_several_charges_net_of_a_credit(api):
    customer = await create_customer(api, None)
    ten_dollars = await coupon(api, amountOff=1000, currency="usd")
    inv = await finalize(api, await manual(api, customer, [1000, 500, -1200], coupon_id=ten_dollars))
    assert line_discounts(inv) == [200, 100, 0]
    assert [d["amount"] for d in inv["totalDiscountAmounts"]] == [300]
    assert (inv["total"], inv["amountDue"], inv["endingBalance"], inv["status"]) == (0, 0, 0, "PAID")
