"""Updating subscriptions through HTTP on a test clock: items, prorations (checked by hand), billing
cycle resets, cancellation, trials, pause_collection, refusals, and the events they record.

The clock starts on Apr 1 2026 00:00 UTC, so a monthly period is 30 days and Apr 16 is exactly half."""
from datetime import UTC, datetime

from tests.billing_flows import (
    SUBSCRIPTION_FIELDS,
    advance,
    create_clock,
    create_customer,
    create_price,
    invoices_of,
    subscribe,
    subscription,
)

APR_1 = datetime(2026, 4, 1, tzinfo=UTC)
HALF = datetime(2026, 4, 16, tzinfo=UTC)
MAY_1 = datetime(2026, 5, 1, tzinfo=UTC)
AFTER_RENEWAL = datetime(2026, 5, 1, 2, tzinfo=UTC)  # the renewal's draft finalizes 1 hour after May 1

UPDATE = ("mutation($id: ID!, $input: UpdateSubscriptionInput!) { updateSubscription(id: $id, input: $input) { "
          f"{SUBSCRIPTION_FIELDS} }} }}")
PENDING = """query($c: ID!) { invoiceItems(customer: $c, pending: true, first: 100) { nodes {
  amount description proration discountable quantity period { start end } price { id } } } }"""


def t(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def update(api, sub_id: str, **input) -> dict:
    return (await api.ok(UPDATE, {"id": sub_id, "input": input}))["updateSubscription"]


async def refused(api, sub_id: str, **input) -> dict:
    return await api.error(UPDATE, {"id": sub_id, "input": input})


async def pending(api, customer: str) -> list[dict]:
    """The customer's pending invoice items, oldest first."""
    return list(reversed((await api.ok(PENDING, {"c": customer}))["invoiceItems"]["nodes"]))


def lines(invoice: dict) -> list[tuple]:
    return [(line["amount"], line["description"], line["proration"]) for line in invoice["lines"]["nodes"]]


async def events_of(api, sub_id: str, type: str = "customer.subscription.updated") -> list[dict]:
    """The data of the subscription's events of one type, oldest first."""
    data = await api.ok("query($t: [String!]) { events(types: $t, first: 100) { nodes { data } } }", {"t": [type]})
    return [n["data"] for n in reversed(data["events"]["nodes"]) if n["data"]["object"]["id"] == sub_id]


async def start(api, amount: int = 3000, name: str = "Basic", quantity: int = 1, **extra):
    """A clock on Apr 1, a customer with a working card, and a monthly subscription to one price."""
    clock = await create_clock(api, APR_1)
    price = await create_price(api, amount, name=name)
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, price, quantity=quantity, **extra)
    return clock, customer, price, sub


def item_id(sub: dict, index: int = 0) -> str:
    return sub["items"]["nodes"][index]["id"]


# ---------------------------------------------------------------- prorations


async def test_upgrade_at_half_period_is_prorated_on_the_next_invoice(api, run_worker):
    clock, customer, _, sub = await start(api)  # $30/month
    premium = await create_price(api, 6000, name="Premium")
    await advance(api, run_worker, clock, HALF)
    updated = await update(api, sub["id"], items=[{"id": item_id(sub), "price": premium}])
    assert updated["items"]["nodes"][0]["price"]["id"] == premium
    assert updated["latestInvoice"]["id"] == sub["latestInvoice"]["id"]  # CREATE_PRORATIONS: nothing invoiced now
    items = await pending(api, customer)
    assert [(i["amount"], i["description"]) for i in items] == [
        (-1500, "Unused time on Basic after 16 Apr 2026"), (3000, "Remaining time on Premium after 16 Apr 2026")]
    for item in items:
        assert item["proration"] is True and item["discountable"] is False and item["quantity"] == 1
        assert (t(item["period"]["start"]), t(item["period"]["end"])) == (HALF, MAY_1)

    await advance(api, run_worker, clock, AFTER_RENEWAL)
    renewal = (await invoices_of(api, sub["id"]))[-1]
    assert renewal["billingReason"] == "SUBSCRIPTION_CYCLE" and renewal["status"] == "PAID"
    assert lines(renewal) == [(6000, "1 × Premium", False), (-1500, "Unused time on Basic after 16 Apr 2026", True),
                              (3000, "Remaining time on Premium after 16 Apr 2026", True)]
    assert renewal["total"] == 7500
    assert await pending(api, customer) == []


async def test_quantity_change_credits_the_old_quantity_and_charges_the_new(api, run_worker):
    clock, customer, _, sub = await start(api, 1000, name="Seat", quantity=2)
    await advance(api, run_worker, clock, datetime(2026, 4, 21, tzinfo=UTC))  # 10 of 30 days left
    updated = await update(api, sub["id"], items=[{"id": item_id(sub), "quantity": 5}])
    assert updated["items"]["nodes"][0]["quantity"] == 5
    assert [(i["amount"], i["description"], i["quantity"]) for i in await pending(api, customer)] == [
        (-667, "Unused time on 2 × Seat after 21 Apr 2026", 2),  # 2000 x 1/3 = 666.67
        (1667, "Remaining time on 5 × Seat after 21 Apr 2026", 5)]  # 5000 x 1/3 = 1666.67


async def test_adding_and_deleting_items(api, run_worker):
    clock = await create_clock(api, APR_1)
    basic, extra, addon = (await create_price(api, 3000, name="Basic"), await create_price(api, 500, name="Extra"),
                           await create_price(api, 2000, name="Addon"))
    customer = await create_customer(api, clock)
    create = f"mutation($in: CreateSubscriptionInput!) {{ createSubscription(input: $in) {{ {SUBSCRIPTION_FIELDS} }} }}"
    sub = (await api.ok(create, {"in": {"customer": customer, "items": [{"price": basic}, {"price": extra}]}})
           )["createSubscription"]
    assert sub["latestInvoice"]["total"] == 3500
    basic_item = next(i["id"] for i in sub["items"]["nodes"] if i["price"]["id"] == basic)
    await advance(api, run_worker, clock, HALF)
    updated = await update(api, sub["id"], items=[{"id": basic_item, "deleted": True}, {"price": addon, "quantity": 2}])
    assert sorted(i["price"]["id"] for i in updated["items"]["nodes"]) == sorted([extra, addon])
    assert [(i["amount"], i["description"]) for i in await pending(api, customer)] == [
        (-1500, "Unused time on Basic after 16 Apr 2026"), (2000, "Remaining time on 2 × Addon after 16 Apr 2026")]

    # The deleted item stays resolvable from the invoice that billed it.
    first = await api.ok("query($id: ID!) { invoice(id: $id) { lines { nodes { amount subscriptionItem { id "
                         "price { id } } } } } }", {"id": sub["latestInvoice"]["id"]})
    billed = {line["subscriptionItem"]["id"]: line for line in first["invoice"]["lines"]["nodes"]}
    assert billed[basic_item]["amount"] == 3000 and billed[basic_item]["subscriptionItem"]["price"]["id"] == basic

    await advance(api, run_worker, clock, AFTER_RENEWAL)
    renewal = (await invoices_of(api, sub["id"]))[-1]
    assert renewal["total"] == 500 + 4000 - 1500 + 2000


async def test_always_invoice_bills_the_prorations_at_once(api, run_worker):
    clock, customer, _, sub = await start(api)
    premium = await create_price(api, 6000, name="Premium")
    await advance(api, run_worker, clock, HALF)
    updated = await update(api, sub["id"], items=[{"id": item_id(sub), "price": premium}],
                           prorationBehavior="ALWAYS_INVOICE")
    invoice = updated["latestInvoice"]
    assert invoice["id"] != sub["latestInvoice"]["id"]
    assert invoice["billingReason"] == "SUBSCRIPTION_UPDATE" and invoice["status"] == "PAID"
    assert lines(invoice) == [(-1500, "Unused time on Basic after 16 Apr 2026", True),
                              (3000, "Remaining time on Premium after 16 Apr 2026", True)]
    assert invoice["total"] == invoice["amountPaid"] == 1500
    assert await pending(api, customer) == []
    assert (t(updated["currentPeriodStart"]), t(updated["currentPeriodEnd"])) == (APR_1, MAY_1)  # cycle kept


async def test_prorations_are_net_of_the_discount(api, run_worker):
    coupon = (await api.ok("mutation { createCoupon(input: {duration: FOREVER, percentOff: \"50\"}) { id } }")
              )["createCoupon"]["id"]
    clock, _, _, sub = await start(api, coupon=coupon)
    assert sub["latestInvoice"]["total"] == 1500
    premium = await create_price(api, 6000, name="Premium")
    await advance(api, run_worker, clock, HALF)
    updated = await update(api, sub["id"], items=[{"id": item_id(sub), "price": premium}],
                           prorationBehavior="ALWAYS_INVOICE")
    invoice = updated["latestInvoice"]
    assert [line["discountable"] for line in invoice["lines"]["nodes"]] == [False, False]
    # Stripe: the customer paid half for the unused time and pays half for the rest: 750 net of 50% off
    assert (invoice["subtotal"], invoice["total"]) == (1500, 750)
    assert [d["amount"] for d in invoice["totalDiscountAmounts"]] == [750]
    await advance(api, run_worker, clock, AFTER_RENEWAL)
    assert (await invoices_of(api, sub["id"]))[-1]["total"] == 3000  # the renewal is discounted


async def test_proration_none_makes_no_prorations(api, run_worker):
    clock, customer, _, sub = await start(api)
    premium = await create_price(api, 6000, name="Premium")
    await advance(api, run_worker, clock, HALF)
    updated = await update(api, sub["id"], items=[{"id": item_id(sub), "price": premium, "quantity": 2}],
                           prorationBehavior="NONE")
    assert updated["items"]["nodes"][0]["quantity"] == 2
    assert updated["latestInvoice"]["id"] == sub["latestInvoice"]["id"]
    assert await pending(api, customer) == []
    await advance(api, run_worker, clock, AFTER_RENEWAL)
    assert lines((await invoices_of(api, sub["id"]))[-1]) == [(12000, "2 × Premium", False)]


async def test_proration_date_fixes_the_instant(api, run_worker):
    clock, customer, _, sub = await start(api)
    premium = await create_price(api, 6000, name="Premium")
    await advance(api, run_worker, clock, datetime(2026, 4, 20, 7, 30, tzinfo=UTC))
    error = await refused(api, sub["id"], items=[{"id": item_id(sub), "price": premium}],
                          prorationDate=datetime(2026, 3, 31, tzinfo=UTC).isoformat())
    assert error["extensions"]["param"] == "prorationDate"
    error = await refused(api, sub["id"], billingCycleAnchor="NOW", prorationDate=HALF.isoformat())
    assert error["extensions"]["param"] == "prorationDate"
    await update(api, sub["id"], items=[{"id": item_id(sub), "price": premium}], prorationDate=HALF.isoformat())
    assert [i["amount"] for i in await pending(api, customer)] == [-1500, 3000]


async def test_proration_to_the_second(api, run_worker):
    clock, customer, _, sub = await start(api, 4999, quantity=3)
    when = datetime(2026, 4, 9, 17, 42, 13, tzinfo=UTC)
    await advance(api, run_worker, clock, when)
    await update(api, sub["id"], items=[{"id": item_id(sub), "quantity": 4}])
    left, whole = int((MAY_1 - when).total_seconds()), 30 * 86400

    def prorated(amount: int) -> int:  # half-up, in integers
        return (2 * amount * left + whole) // (2 * whole)

    assert [i["amount"] for i in await pending(api, customer)] == [-prorated(3 * 4999), prorated(4 * 4999)]


# ---------------------------------------------------------------- billing cycle resets


async def test_billing_cycle_anchor_now_starts_a_new_period_invoiced_at_once(api, run_worker):
    clock, customer, _, sub = await start(api)
    await advance(api, run_worker, clock, HALF)
    updated = await update(api, sub["id"], billingCycleAnchor="NOW")
    assert t(updated["billingCycleAnchor"]) == HALF
    assert (t(updated["currentPeriodStart"]), t(updated["currentPeriodEnd"])) == (HALF, datetime(2026, 5, 16,
                                                                                                 tzinfo=UTC))
    invoice = updated["latestInvoice"]
    assert invoice["billingReason"] == "SUBSCRIPTION_UPDATE" and invoice["status"] == "PAID"
    assert sorted(lines(invoice)) == [(-1500, "Unused time on Basic after 16 Apr 2026", True),
                                      (3000, "1 × Basic", False)]
    assert invoice["total"] == 1500
    assert await pending(api, customer) == []
    await advance(api, run_worker, clock, datetime(2026, 5, 16, 2, tzinfo=UTC))
    renewal = (await invoices_of(api, sub["id"]))[-1]
    assert renewal["billingReason"] == "SUBSCRIPTION_CYCLE" and renewal["total"] == 3000
    assert t(renewal["lines"]["nodes"][0]["period"]["end"]) == datetime(2026, 6, 16, tzinfo=UTC)


async def test_interval_change_resets_the_anchor_and_invoices_at_once(api, run_worker):
    clock, customer, _, sub = await start(api)
    yearly = await create_price(api, 30000, interval="YEAR", name="Basic yearly")
    await advance(api, run_worker, clock, HALF)
    updated = await update(api, sub["id"], items=[{"id": item_id(sub), "price": yearly}])
    assert t(updated["billingCycleAnchor"]) == HALF and updated["status"] == "ACTIVE"
    assert t(updated["currentPeriodEnd"]) == datetime(2027, 4, 16, tzinfo=UTC)
    invoice = updated["latestInvoice"]
    assert invoice["status"] == "PAID" and invoice["billingReason"] == "SUBSCRIPTION_UPDATE"
    assert sorted(lines(invoice)) == [(-1500, "Unused time on Basic after 16 Apr 2026", True),
                                      (30000, "1 × Basic yearly", False)]
    assert invoice["total"] == 28500
    assert await pending(api, customer) == []


async def test_a_coupon_given_with_a_reset_discounts_its_invoice(api, run_worker):
    coupon = (await api.ok("mutation { createCoupon(input: {duration: FOREVER, percentOff: \"50\"}) { id } }")
              )["createCoupon"]["id"]
    clock, _, _, sub = await start(api)
    await advance(api, run_worker, clock, HALF)
    invoice = (await update(api, sub["id"], billingCycleAnchor="NOW", coupon=coupon))["latestInvoice"]
    assert invoice["subtotal"] == 1500 and invoice["total"] == 0  # 3000 - 50% of it, and the credit of -1500
    assert [d["amount"] for d in invoice["totalDiscountAmounts"]] == [1500]


async def test_interval_change_without_prorations_bills_the_new_period_only(api, run_worker):
    clock, customer, _, sub = await start(api)
    yearly = await create_price(api, 30000, interval="YEAR", name="Basic yearly")
    await advance(api, run_worker, clock, HALF)
    updated = await update(api, sub["id"], items=[{"id": item_id(sub), "price": yearly}], prorationBehavior="NONE")
    assert lines(updated["latestInvoice"]) == [(30000, "1 × Basic yearly", False)]
    assert t(updated["currentPeriodEnd"]) == datetime(2027, 4, 16, tzinfo=UTC)
    assert await pending(api, customer) == []


async def test_failed_payment_of_an_update_invoice_makes_the_subscription_past_due(api, run_worker):
    clock, customer, _, sub = await start(api)
    failing = (await api.ok("mutation($c: ID!) { attachPaymentMethod(customer: $c, paymentMethod: "
                            "\"pm_card_chargeCustomerFail\") { id } }", {"c": customer}))["attachPaymentMethod"]["id"]
    await update(api, sub["id"], defaultPaymentMethod=failing)
    await advance(api, run_worker, clock, HALF)
    updated = await update(api, sub["id"], billingCycleAnchor="NOW")
    assert updated["latestInvoice"]["status"] == "OPEN" and updated["latestInvoice"]["attemptCount"] == 1
    assert updated["status"] == "PAST_DUE"
    assert (await subscription(api, sub["id"]))["status"] == "PAST_DUE"


# ---------------------------------------------------------------- cancellation


async def test_cancel_at_period_end_and_its_undo(api, run_worker):
    clock, _, _, sub = await start(api)
    await advance(api, run_worker, clock, HALF)
    updated = await update(api, sub["id"], cancelAtPeriodEnd=True)
    assert updated["cancelAtPeriodEnd"] is True and t(updated["canceledAt"]) == HALF
    undone = await update(api, sub["id"], cancelAtPeriodEnd=False)
    assert undone["cancelAtPeriodEnd"] is False and undone["canceledAt"] is None
    await update(api, sub["id"], cancelAtPeriodEnd=True)
    await advance(api, run_worker, clock, AFTER_RENEWAL)
    ended = await subscription(api, sub["id"])
    assert ended["status"] == "CANCELED" and t(ended["endedAt"]) == MAY_1
    assert len(await invoices_of(api, sub["id"])) == 1  # no renewal


async def test_undone_cancel_at_period_end_renews(api, run_worker):
    clock, _, _, sub = await start(api)
    await update(api, sub["id"], cancelAtPeriodEnd=True)
    await update(api, sub["id"], cancelAtPeriodEnd=False)
    await advance(api, run_worker, clock, AFTER_RENEWAL)
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"
    assert len(await invoices_of(api, sub["id"])) == 2


async def test_cancel_at_ends_the_subscription_on_time(api, run_worker):
    clock, _, _, sub = await start(api)
    assert (await refused(api, sub["id"], cancelAt=APR_1.isoformat()))["extensions"]["param"] == "cancelAt"
    cancel_at = datetime(2026, 4, 20, 9, tzinfo=UTC)
    updated = await update(api, sub["id"], cancelAt=cancel_at.isoformat())
    assert t(updated["cancelAt"]) == cancel_at and updated["status"] == "ACTIVE"
    await advance(api, run_worker, clock, AFTER_RENEWAL)
    ended = await subscription(api, sub["id"])
    assert ended["status"] == "CANCELED" and t(ended["endedAt"]) == cancel_at
    _, final = await invoices_of(api, sub["id"])  # no renewal: a final invoice credits Apr 20 09:00 -> May 1
    assert (final["billingReason"], final["total"]) == ("SUBSCRIPTION_UPDATE", -1063)  # 255 of 720 hours


# ---------------------------------------------------------------- trials


async def test_extending_a_trial_moves_the_period_and_the_notice(api, run_worker):
    clock, _, _, sub = await start(api, trialPeriodDays=7)  # trial ends Apr 8
    assert sub["status"] == "TRIALING" and t(sub["trialEnd"]) == datetime(2026, 4, 8, tzinfo=UTC)
    await advance(api, run_worker, clock, datetime(2026, 4, 6, tzinfo=UTC))
    assert len(await events_of(api, sub["id"], "customer.subscription.trial_will_end")) == 1
    new_end = datetime(2026, 4, 20, tzinfo=UTC)
    updated = await update(api, sub["id"], trialEnd=new_end.isoformat())
    assert updated["status"] == "TRIALING" and t(updated["trialEnd"]) == new_end
    assert t(updated["trialStart"]) == APR_1
    assert t(updated["currentPeriodEnd"]) == new_end and t(updated["billingCycleAnchor"]) == new_end
    await advance(api, run_worker, clock, datetime(2026, 4, 20, 2, tzinfo=UTC))
    assert len(await events_of(api, sub["id"], "customer.subscription.trial_will_end")) == 2  # Apr 17 too
    state = await subscription(api, sub["id"])
    assert state["status"] == "ACTIVE" and t(state["currentPeriodEnd"]) == datetime(2026, 5, 20, tzinfo=UTC)
    first_paid = (await invoices_of(api, sub["id"]))[-1]
    assert first_paid["total"] == 3000 and first_paid["status"] == "PAID"


async def test_end_trial_now_invoices_at_once(api, run_worker):
    clock, _, _, sub = await start(api, trialPeriodDays=14)
    now = datetime(2026, 4, 3, 8, tzinfo=UTC)
    await advance(api, run_worker, clock, now)
    assert (await refused(api, sub["id"], billingCycleAnchor="NOW"))["extensions"]["param"] == "billingCycleAnchor"
    updated = await update(api, sub["id"], endTrialNow=True)
    assert updated["status"] == "ACTIVE" and t(updated["trialEnd"]) == now
    assert t(updated["billingCycleAnchor"]) == now
    assert (t(updated["currentPeriodStart"]), t(updated["currentPeriodEnd"])) == (now, datetime(2026, 5, 3, 8,
                                                                                                tzinfo=UTC))
    invoice = updated["latestInvoice"]
    assert lines(invoice) == [(3000, "1 × Basic", False)] and invoice["status"] == "PAID"
    assert (await refused(api, sub["id"], endTrialNow=True))["extensions"]["param"] == "endTrialNow"


async def test_item_changes_during_a_trial_are_not_prorated(api, run_worker):
    clock, customer, _, sub = await start(api, trialPeriodDays=14)
    yearly = await create_price(api, 30000, interval="YEAR", name="Basic yearly")
    await advance(api, run_worker, clock, datetime(2026, 4, 5, tzinfo=UTC))
    updated = await update(api, sub["id"], items=[{"id": item_id(sub), "price": yearly, "quantity": 2}])
    assert updated["status"] == "TRIALING" and updated["latestInvoice"]["id"] == sub["latestInvoice"]["id"]
    assert await pending(api, customer) == []
    await advance(api, run_worker, clock, datetime(2026, 4, 15, 2, tzinfo=UTC))
    state = await subscription(api, sub["id"])
    assert state["status"] == "ACTIVE" and t(state["currentPeriodEnd"]) == datetime(2027, 4, 15, tzinfo=UTC)
    assert lines(state["latestInvoice"]) == [(60000, "2 × Basic yearly", False)]


async def test_adding_a_trial_to_an_active_subscription_credits_the_unused_time(api, run_worker):
    clock, customer, _, sub = await start(api)
    await advance(api, run_worker, clock, HALF)
    trial_end = datetime(2026, 5, 10, tzinfo=UTC)
    updated = await update(api, sub["id"], trialEnd=trial_end.isoformat())
    assert updated["status"] == "TRIALING"
    assert (t(updated["trialStart"]), t(updated["trialEnd"])) == (HALF, trial_end)
    assert (t(updated["currentPeriodStart"]), t(updated["currentPeriodEnd"])) == (HALF, trial_end)
    assert [(i["amount"], i["description"]) for i in await pending(api, customer)] == [
        (-1500, "Unused time on Basic after 16 Apr 2026")]
    await advance(api, run_worker, clock, datetime(2026, 5, 10, 2, tzinfo=UTC))
    invoice = (await invoices_of(api, sub["id"]))[-1]
    assert lines(invoice) == [(3000, "1 × Basic", False), (-1500, "Unused time on Basic after 16 Apr 2026", True)]
    assert invoice["amountPaid"] == 1500


async def test_a_new_trial_with_a_new_interval_waits_for_the_trial_end(api, run_worker):
    clock, customer, _, sub = await start(api)
    yearly = await create_price(api, 30000, interval="YEAR", name="Basic yearly")
    await advance(api, run_worker, clock, HALF)
    trial_end = datetime(2026, 5, 10, tzinfo=UTC)
    updated = await update(api, sub["id"], items=[{"id": item_id(sub), "price": yearly}],
                           trialEnd=trial_end.isoformat())
    assert updated["status"] == "TRIALING" and updated["latestInvoice"]["id"] == sub["latestInvoice"]["id"]
    assert [i["amount"] for i in await pending(api, customer)] == [-1500]
    await advance(api, run_worker, clock, datetime(2026, 5, 10, 2, tzinfo=UTC))
    state = await subscription(api, sub["id"])
    assert t(state["currentPeriodEnd"]) == datetime(2027, 5, 10, tzinfo=UTC)
    assert lines(state["latestInvoice"]) == [(30000, "1 × Basic yearly", False),
                                             (-1500, "Unused time on Basic after 16 Apr 2026", True)]


# ---------------------------------------------------------------- pause_collection


async def test_pause_collection_set_and_cleared(api, run_worker):
    clock, _, _, sub = await start(api)
    resumes_at = datetime(2026, 5, 20, tzinfo=UTC)
    paused = await update(api, sub["id"], pauseCollection={"behavior": "KEEP_AS_DRAFT",
                                                           "resumesAt": resumes_at.isoformat()})
    assert paused["pauseCollection"]["behavior"] == "KEEP_AS_DRAFT"
    assert t(paused["pauseCollection"]["resumesAt"]) == resumes_at
    await advance(api, run_worker, clock, AFTER_RENEWAL)
    renewal = (await invoices_of(api, sub["id"]))[-1]
    assert renewal["status"] == "DRAFT" and renewal["autoAdvance"] is False and renewal["attemptCount"] == 0
    cleared = await update(api, sub["id"], pauseCollection=None)
    assert cleared["pauseCollection"] is None
    previous = [e["previous_attributes"] for e in await events_of(api, sub["id"])]
    assert {"pause_collection": None} in previous
    assert {"pause_collection": {"behavior": "keep_as_draft", "resumes_at": int(resumes_at.timestamp())}} in previous


# ---------------------------------------------------------------- refusals


async def test_invalid_updates_are_refused_and_change_nothing(api, run_worker):
    clock, customer, price, sub = await start(api)
    euros = await create_price(api, 3000, currency="eur", name="Euro")
    yearly = await create_price(api, 30000, interval="YEAR", name="Yearly")
    one_time = (await api.ok("mutation($p: ID!) { createPrice(input: {product: $p, currency: \"usd\", "
                             "unitAmount: 100}) { id } }", {"p": (await api.ok(
                                 "query($id: ID!) { price(id: $id) { product { id } } }", {"id": price})
                             )["price"]["product"]["id"]}))["createPrice"]["id"]
    await advance(api, run_worker, clock, HALF)
    events_before = len(await events_of(api, sub["id"]))
    si = item_id(sub)
    cases = [
        ({"items": [{"price": euros}]}, "items", "currency"),
        ({"items": [{"id": si, "price": euros}]}, "items", "currency"),
        ({"items": [{"price": yearly}]}, "items", "interval"),
        ({"items": [{"price": one_time}]}, "items.0.price", "one-time"),
        ({"items": [{"id": si, "deleted": True}]}, "items", "at least one item"),
        ({"items": [{"price": price}]}, "items", "once"),
        ({"items": [{"id": "si_missing", "quantity": 2}]}, "items.0.id", "No such subscription item"),
        ({"items": [{"id": si, "quantity": -1}]}, "items.0.quantity", "at least 0"),
        ({"items": [{"deleted": True}]}, "items.0.deleted", "deleted"),
        ({"endTrialNow": True}, "endTrialNow", "not trialing"),
        ({"trialEnd": APR_1.isoformat()}, "trialEnd", "future"),
        ({"billingCycleAnchor": "NOW", "trialEnd": MAY_1.isoformat()}, "billingCycleAnchor", "endTrialNow"),
    ]
    for input, param, message in cases:
        error = await refused(api, sub["id"], **input)
        assert error["extensions"]["param"].startswith(param), (input, error)
        assert message in error["message"], (input, error)
        assert error["extensions"]["type"] == "invalid_request_error" or "No such" in message
    state = await subscription(api, sub["id"])
    assert [(i["id"], i["quantity"], i["price"]["id"]) for i in state["items"]["nodes"]] == [(si, 1, price)]
    assert state["latestInvoice"]["id"] == sub["latestInvoice"]["id"]
    assert await pending(api, customer) == []
    assert len(await events_of(api, sub["id"])) == events_before


async def test_a_canceled_subscription_cannot_be_updated(api, run_worker):
    _, _, _, sub = await start(api)
    await api.ok("mutation($id: ID!) { cancelSubscription(id: $id) { id } }", {"id": sub["id"]})
    assert (await refused(api, sub["id"], cancelAtPeriodEnd=True))["extensions"]["param"] == "id"


# ---------------------------------------------------------------- events


async def test_updated_events_carry_previous_attributes(api, run_worker):
    clock, _, price, sub = await start(api)
    await advance(api, run_worker, clock, HALF)
    await update(api, sub["id"], cancelAtPeriodEnd=True)
    await update(api, sub["id"], items=[{"id": item_id(sub), "quantity": 3}], prorationBehavior="NONE")
    await update(api, sub["id"], metadata={"plan": "team"})
    await update(api, sub["id"], metadata={"plan": "team"})  # no change: no event
    first, second, third = await events_of(api, sub["id"])
    assert first["previous_attributes"] == {"cancel_at_period_end": False, "canceled_at": None}
    assert first["object"]["cancel_at_period_end"] is True
    assert set(second["previous_attributes"]) == {"items"}
    [old] = second["previous_attributes"]["items"]["data"]
    [new] = second["object"]["items"]["data"]
    assert (old["id"], old["quantity"], old["price"]) == (item_id(sub), 1, price)
    assert (new["id"], new["quantity"]) == (item_id(sub), 3)
    assert third["previous_attributes"] == {"metadata": {}}
