"""Subscriptions through HTTP on test clocks with a real worker: creation and its errors, the renewal
cycle (draft, finalized an hour later, charged), test clock advances, and one long life from trial to
cancellation."""
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

CREATE = "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id status } }"
ADVANCE = "mutation($id: ID!, $t: DateTime!) { advanceTestClock(id: $id, frozenTime: $t) { status frozenTime } }"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def all_events(api, **filters) -> list[dict]:
    """Every event (type, created, data), oldest first, across pages."""
    nodes, after = [], None
    while True:
        page = (await api.ok(
            "query($after: String, $type: String, $types: [String!]) { events(first: 100, after: $after, "
            "type: $type, types: $types) { nodes { type created data } pageInfo { hasNextPage endCursor } } }",
            {"after": after, **filters}))["events"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return list(reversed(nodes))
        after = page["pageInfo"]["endCursor"]


async def nothing_created(api, customer: str) -> None:
    data = await api.ok("query($c: ID!) { customer(id: $c) { subscriptions { nodes { id } } "
                        "invoices { nodes { id } } } }", {"c": customer})
    assert data["customer"]["subscriptions"]["nodes"] == [] and data["customer"]["invoices"]["nodes"] == []


# ---------------------------------------------------------------- create

async def test_create_with_several_items_bills_them_on_one_invoice(api):
    clock = await create_clock(api)
    pro, seats = await create_price(api, 2000), await create_price(api, 350, name="Seats")
    customer = await create_customer(api, clock)
    data = await api.ok(
        "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id status currency "
        "items { nodes { quantity price { id } } } latestInvoice { total status lines { totalCount nodes { amount "
        "quantity description period { start end } } } } } }",
        {"input": {"customer": customer, "items": [{"price": pro}, {"price": seats, "quantity": 4}]}})
    sub = data["createSubscription"]
    assert (sub["status"], sub["currency"]) == ("ACTIVE", "usd")
    assert sorted((n["price"]["id"], n["quantity"]) for n in sub["items"]["nodes"]) == sorted([(pro, 1), (seats, 4)])
    invoice = sub["latestInvoice"]
    assert (invoice["status"], invoice["total"], invoice["lines"]["totalCount"]) == ("PAID", 3400, 2)
    lines = invoice["lines"]["nodes"]
    assert [(line["amount"], line["quantity"]) for line in lines] == [(2000, 1), (1400, 4)]
    assert lines[1]["description"] == "4 × Seats"
    assert {(line["period"]["start"], line["period"]["end"]) for line in lines} == {
        ("2026-01-31T12:00:00+00:00", "2026-02-28T12:00:00+00:00")}


async def test_create_refuses_bad_input_with_a_clear_param_and_writes_nothing(api):
    clock = await create_clock(api)
    monthly = await create_price(api, 2000)
    euro = await create_price(api, 2000, currency="eur")
    yearly = await create_price(api, 20000, interval="YEAR")
    product = (await api.ok('mutation { createProduct(input: {name: "Setup"}) { id } }'))["createProduct"]["id"]
    once = (await api.ok("mutation($p: ID!) { createPrice(input: {product: $p, currency: \"usd\", unitAmount: 500}) "
                         "{ id } }", {"p": product}))["createPrice"]["id"]
    customer = await create_customer(api, clock)
    other = await create_customer(api, clock)
    foreign_card = (await api.ok("query($c: ID!) { customer(id: $c) { paymentMethods { nodes { id } } } }",
                                 {"c": other}))["customer"]["paymentMethods"]["nodes"][0]["id"]
    item = [{"price": monthly}]
    cases = [
        ({"items": []}, "items"),
        ({"items": [{"price": monthly}, {"price": euro}]}, "items.1.price"),
        ({"items": [{"price": monthly}, {"price": yearly}]}, "items.1.price"),
        ({"items": [{"price": once}]}, "items.0.price"),
        ({"items": [{"price": monthly}, {"price": monthly}]}, "items"),
        ({"items": [{"price": monthly, "quantity": -1}]}, "items.0.quantity"),
        ({"items": item, "trialPeriodDays": 7, "trialEnd": "2026-02-10T00:00:00Z"}, "trialEnd"),
        ({"items": item, "trialEnd": "2026-01-01T00:00:00Z"}, "trialEnd"),
        ({"items": item, "billingCycleAnchor": "2026-01-01T00:00:00Z"}, "billingCycleAnchor"),
        ({"items": item, "billingCycleAnchor": "2026-04-15T00:00:00Z"}, "billingCycleAnchor"),
        ({"items": item, "backdateStartDate": "2026-02-15T00:00:00Z"}, "backdateStartDate"),
        ({"items": item, "cancelAt": "2026-01-15T00:00:00Z"}, "cancelAt"),
        ({"items": item, "collectionMethod": "SEND_INVOICE"}, "daysUntilDue"),
        ({"items": item, "daysUntilDue": 10}, "daysUntilDue"),
        ({"items": item, "defaultPaymentMethod": foreign_card}, "defaultPaymentMethod"),
        ({"items": item, "coupon": "no_such_coupon"}, "coupon"),
    ]
    for extra, param in cases:
        error = await api.error(CREATE, {"input": {"customer": customer, **extra}})
        assert error["extensions"]["type"] == "invalid_request_error", (extra, error)
        assert error["extensions"]["param"] == param, (extra, error)
        assert error["message"], extra
    error = await api.error(CREATE, {"input": {"customer": "cus_nope", "items": item}})
    assert error["extensions"] == {"code": "resource_missing", "type": "invalid_request_error", "param": "customer"}
    await nothing_created(api, customer)
    assert await all_events(api, type="customer.subscription.created") == []


async def test_billing_cycle_anchor_prorates_the_first_invoice_up_to_the_anchor(api, run_worker):
    clock = await create_clock(api)  # 2026-01-31 12:00
    price = await create_price(api, 3100)
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, price, billingCycleAnchor="2026-02-15T00:00:00Z")
    assert sub["status"] == "ACTIVE"
    assert (sub["currentPeriodStart"], sub["currentPeriodEnd"], sub["billingCycleAnchor"]) == (
        "2026-01-31T12:00:00+00:00", "2026-02-15T00:00:00+00:00", "2026-02-15T00:00:00+00:00")
    first = sub["latestInvoice"]
    # 14.5 days of the 31-day period Jan 15 -> Feb 15: 3100 x 14.5 / 31 = 1450.
    assert (first["status"], first["total"]) == ("PAID", 1450)
    [line] = first["lines"]["nodes"]
    assert line["proration"] is True and line["amount"] == 1450
    assert (line["period"]["start"], line["period"]["end"]) == ("2026-01-31T12:00:00+00:00",
                                                                 "2026-02-15T00:00:00+00:00")
    await advance(api, run_worker, clock, datetime(2026, 3, 16, tzinfo=UTC))
    invoices = await invoices_of(api, sub["id"])
    assert [(i["billingReason"], i["total"], i["status"]) for i in invoices] == [
        ("SUBSCRIPTION_CREATE", 1450, "PAID"), ("SUBSCRIPTION_CYCLE", 3100, "PAID"),
        ("SUBSCRIPTION_CYCLE", 3100, "PAID")]
    assert [i["periodEnd"] for i in invoices[1:]] == ["2026-02-15T00:00:00+00:00", "2026-03-15T00:00:00+00:00"]
    state = await subscription(api, sub["id"])
    assert state["currentPeriodEnd"] == "2026-04-15T00:00:00+00:00"


async def test_billing_cycle_anchor_without_proration_gives_the_first_stretch_free(api):
    clock = await create_clock(api)
    price = await create_price(api, 3100)
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, price, billingCycleAnchor="2026-02-15T00:00:00Z", prorationBehavior="NONE")
    assert (sub["status"], sub["latestInvoice"]["total"], sub["latestInvoice"]["status"]) == ("ACTIVE", 0, "PAID")


async def test_backdated_start_bills_the_period_from_the_backdated_start(api, run_worker):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    customer = await create_customer(api, clock)
    data = await api.ok(
        "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id startDate created "
        "currentPeriodStart currentPeriodEnd billingCycleAnchor latestInvoice { total status } } }",
        {"input": {"customer": customer, "items": [{"price": price}], "backdateStartDate": "2026-01-21T12:00:00Z"}})
    sub = data["createSubscription"]
    assert sub["startDate"] == sub["currentPeriodStart"] == sub["billingCycleAnchor"] == "2026-01-21T12:00:00+00:00"
    assert sub["created"] == "2026-01-31T12:00:00+00:00"
    assert sub["currentPeriodEnd"] == "2026-02-21T12:00:00+00:00"
    assert sub["latestInvoice"] == {"total": 2000, "status": "PAID"}
    await advance(api, run_worker, clock, datetime(2026, 2, 22, tzinfo=UTC))
    assert [i["total"] for i in await invoices_of(api, sub["id"])] == [2000, 2000]


async def test_a_start_backdated_over_whole_periods_bills_each_of_them_and_renews_after_now(api, run_worker):
    clock = await create_clock(api)  # 2026-01-31 12:00, backdated to 2025-12-17 12:00
    price = await create_price(api, 2000)
    sub = await subscribe(api, await create_customer(api, clock), price, backdateStartDate="2025-12-17T12:00:00Z")
    assert (sub["currentPeriodStart"], sub["currentPeriodEnd"]) == ("2026-01-17T12:00:00+00:00",
                                                                     "2026-02-17T12:00:00+00:00")
    first = sub["latestInvoice"]
    assert (first["status"], first["total"], first["periodStart"]) == ("PAID", 4000, "2025-12-17T12:00:00+00:00")
    assert [(line["period"]["start"][:10], line["period"]["end"][:10], line["amount"])
            for line in first["lines"]["nodes"]] == [("2025-12-17", "2026-01-17", 2000),
                                                     ("2026-01-17", "2026-02-17", 2000)]
    await advance(api, run_worker, clock, datetime(2026, 2, 1, tzinfo=UTC))
    assert len(await invoices_of(api, sub["id"])) == 1  # nothing falls due in the past
    await advance(api, run_worker, clock, datetime(2026, 2, 18, tzinfo=UTC))
    renewal = (await invoices_of(api, sub["id"]))[-1]
    assert (renewal["periodEnd"], renewal["total"], renewal["status"]) == ("2026-02-17T12:00:00+00:00", 2000, "PAID")


async def test_a_coupon_discounts_the_first_invoice_and_the_renewals(api, run_worker):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    customer = await create_customer(api, clock)
    coupon = (await api.ok('mutation { createCoupon(input: {duration: FOREVER, percentOff: "25"}) { id } }'))[
        "createCoupon"]["id"]
    sub = await subscribe(api, customer, price, coupon=coupon)
    first = sub["latestInvoice"]
    assert (first["subtotal"], first["total"], first["amountPaid"]) == (2000, 1500, 1500)
    assert first["totalDiscountAmounts"][0]["amount"] == 500
    await advance(api, run_worker, clock, datetime(2026, 3, 1, tzinfo=UTC))
    assert [i["total"] for i in await invoices_of(api, sub["id"])] == [1500, 1500]
    redeemed = await api.ok("query($id: ID!) { coupon(id: $id) { timesRedeemed } }", {"id": coupon})
    assert redeemed["coupon"]["timesRedeemed"] == 1


async def test_the_subscription_default_payment_method_is_charged_before_the_customers(api):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    attach = "mutation($c: ID!, $pm: ID!) { attachPaymentMethod(customer: $c, paymentMethod: $pm) { id } }"
    failing_default = await create_customer(api, clock, card="pm_card_chargeCustomerFail")
    visa = (await api.ok(attach, {"c": failing_default, "pm": "pm_card_visa"}))["attachPaymentMethod"]["id"]
    sub = await subscribe(api, failing_default, price, defaultPaymentMethod=visa)
    assert (sub["status"], sub["latestInvoice"]["status"]) == ("ACTIVE", "PAID")
    good_default = await create_customer(api, clock)
    failing = (await api.ok(attach, {"c": good_default, "pm": "pm_card_chargeCustomerFail"}))[
        "attachPaymentMethod"]["id"]
    sub = await subscribe(api, good_default, price, defaultPaymentMethod=failing)
    assert (sub["status"], sub["latestInvoice"]["status"]) == ("INCOMPLETE", "OPEN")
    data = await api.ok("query($id: ID!) { subscription(id: $id) { defaultPaymentMethod { id } latestInvoice { "
                        "paymentIntent { paymentMethod { id } } } } }", {"id": sub["id"]})
    assert data["subscription"]["defaultPaymentMethod"]["id"] == failing
    assert data["subscription"]["latestInvoice"]["paymentIntent"]["paymentMethod"]["id"] == failing


async def test_subscription_created_event_carries_the_state_after_the_first_payment(api):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    paid = await subscribe(api, await create_customer(api, clock), price)
    declined = await subscribe(api, await create_customer(api, clock, card="pm_card_chargeCustomerFail"), price)
    created = {e["data"]["object"]["id"]: e["data"]["object"]
               for e in await all_events(api, type="customer.subscription.created")}
    assert created[paid["id"]]["status"] == "active"
    assert created[paid["id"]]["latest_invoice"] == paid["latestInvoice"]["id"]
    assert created[declined["id"]]["status"] == "incomplete"


# ---------------------------------------------------------------- the cycle

async def test_renewal_is_a_draft_at_the_period_end_finalized_an_hour_later_then_charged(api, run_worker):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, price)
    period_end = at(sub["currentPeriodEnd"])  # 2026-02-28 12:00
    await advance(api, run_worker, clock, period_end + timedelta(minutes=59, seconds=59))
    renewal = (await invoices_of(api, sub["id"]))[-1]
    assert (renewal["status"], renewal["billingReason"], renewal["autoAdvance"]) == ("DRAFT", "SUBSCRIPTION_CYCLE",
                                                                                     True)
    assert renewal["number"] is None and renewal["attemptCount"] == 0
    assert (renewal["periodStart"], renewal["periodEnd"]) == (sub["currentPeriodStart"], sub["currentPeriodEnd"])
    [line] = renewal["lines"]["nodes"]
    assert (line["period"]["start"], line["period"]["end"]) == ("2026-02-28T12:00:00+00:00",
                                                                 "2026-03-31T12:00:00+00:00")
    state = await subscription(api, sub["id"])
    assert (state["currentPeriodStart"], state["currentPeriodEnd"]) == ("2026-02-28T12:00:00+00:00",
                                                                         "2026-03-31T12:00:00+00:00")
    assert state["latestInvoice"]["id"] == renewal["id"]

    await advance(api, run_worker, clock, period_end + timedelta(hours=1))
    data = await api.ok("query($id: ID!) { invoice(id: $id) { status number created attemptCount amountPaid "
                        "statusTransitions { finalizedAt paidAt } paymentIntent { status amount } } }",
                        {"id": renewal["id"]})
    invoice = data["invoice"]
    assert (invoice["status"], invoice["attemptCount"], invoice["amountPaid"]) == ("PAID", 1, 2000)
    assert at(invoice["created"]) == period_end
    assert at(invoice["statusTransitions"]["finalizedAt"]) - at(invoice["created"]) == timedelta(hours=1)
    assert invoice["statusTransitions"]["paidAt"] == invoice["statusTransitions"]["finalizedAt"]
    assert invoice["paymentIntent"] == {"status": "SUCCEEDED", "amount": 2000}
    assert invoice["number"].endswith("-0002")
    times = {(e["type"], e["created"]) for e in await all_events(api, type="invoice.*")
             if e["data"]["object"]["id"] == renewal["id"]}
    finalized = invoice["statusTransitions"]["finalizedAt"]
    assert {("invoice.created", invoice["created"]), ("invoice.finalized", finalized), ("invoice.paid", finalized),
            ("invoice.payment_succeeded", finalized)} <= times


async def test_monthly_renewals_follow_month_ends(api, run_worker):
    clock = await create_clock(api)  # Jan 31
    price = await create_price(api, 2000)
    sub = await subscribe(api, await create_customer(api, clock), price)
    await advance(api, run_worker, clock, datetime(2026, 3, 31, 12, tzinfo=UTC))  # at most two months at once
    await advance(api, run_worker, clock, datetime(2026, 5, 1, tzinfo=UTC))
    invoices = await invoices_of(api, sub["id"])
    assert [i["periodEnd"][:10] for i in invoices] == ["2026-02-28", "2026-02-28", "2026-03-31", "2026-04-30"]
    assert [i["status"] for i in invoices] == ["PAID"] * 4


# ---------------------------------------------------------------- test clocks

async def test_advancing_a_clock_reports_advancing_then_ready_with_events(api, run_worker):
    clock = await create_clock(api)
    target = START + timedelta(days=3)
    data = await api.ok(ADVANCE, {"id": clock, "t": target.isoformat()})
    assert data["advanceTestClock"]["status"] == "ADVANCING"
    read = await api.ok("query($id: ID!) { testClock(id: $id) { status frozenTime } }", {"id": clock})
    assert read["testClock"] == {"status": "ADVANCING", "frozenTime": START.isoformat()}
    error = await api.error(ADVANCE, {"id": clock, "t": (target + timedelta(days=1)).isoformat()})
    assert error["extensions"]["type"] == "invalid_request_error"
    await run_worker()
    read = await api.ok("query($id: ID!) { testClock(id: $id) { status frozenTime } }", {"id": clock})
    assert read["testClock"] == {"status": "READY", "frozenTime": target.isoformat()}
    events = {e["type"]: e for e in await all_events(api, type="test_helpers.test_clock.*")}
    assert sorted(events) == ["test_helpers.test_clock.advancing", "test_helpers.test_clock.created",
                              "test_helpers.test_clock.ready"]
    advancing, ready = events["test_helpers.test_clock.advancing"], events["test_helpers.test_clock.ready"]
    assert (advancing["created"], advancing["data"]["object"]["status"]) == (START.isoformat(), "advancing")
    assert (ready["created"], ready["data"]["object"]["status"]) == (target.isoformat(), "ready")
    assert ready["data"]["object"]["frozen_time"] == int(target.timestamp())


async def test_a_clock_never_moves_backwards(api):
    clock = await create_clock(api)
    for moment in (START, START - timedelta(seconds=1)):
        error = await api.error(ADVANCE, {"id": clock, "t": moment.isoformat()})
        assert error["extensions"] == {"code": "parameter_invalid", "type": "invalid_request_error",
                                       "param": "frozenTime"}


async def test_one_advance_covers_at_most_two_intervals_of_the_shortest_subscription(api, run_worker):
    clock = await create_clock(api)
    error = await api.error(ADVANCE, {"id": clock, "t": "2028-01-31T12:00:01Z"})
    assert error["extensions"]["param"] == "frozenTime"  # no subscription: two years
    customer = await create_customer(api, clock)
    await subscribe(api, customer, await create_price(api, 50000, interval="YEAR"))
    weekly = await subscribe(api, customer, await create_price(api, 500, interval="WEEK"))
    error = await api.error(ADVANCE, {"id": clock, "t": (START + timedelta(days=14, seconds=1)).isoformat()})
    assert error["extensions"]["param"] == "frozenTime"
    await advance(api, run_worker, clock, START + timedelta(days=14))
    assert [i["total"] for i in await invoices_of(api, weekly["id"])] == [500, 500, 500]
    await api.ok("mutation($id: ID!) { cancelSubscription(id: $id) { id } }", {"id": weekly["id"]})
    error = await api.error(ADVANCE, {"id": clock, "t": "2028-02-15T00:00:00Z"})
    assert error["extensions"]["param"] == "frozenTime"  # the yearly one remains: two years from now
    await advance(api, run_worker, clock, datetime(2028, 2, 14, 12, tzinfo=UTC))


# ---------------------------------------------------------------- one long life

async def test_trial_then_renewals_then_failed_payments_until_canceled(api, run_worker):
    clock = await create_clock(api)  # 2026-01-31 12:00
    price = await create_price(api, 2000)
    customer = await create_customer(api, clock, invoicePrefix="LIFE")
    sub = await subscribe(api, customer, price, trialPeriodDays=14)
    assert (sub["status"], sub["trialEnd"]) == ("TRIALING", "2026-02-14T12:00:00+00:00")
    assert (sub["latestInvoice"]["total"], sub["latestInvoice"]["status"]) == (0, "PAID")

    await advance(api, run_worker, clock, datetime(2026, 2, 15, tzinfo=UTC))  # trial ends, first charge
    state = await subscription(api, sub["id"])
    assert (state["status"], state["billingCycleAnchor"]) == ("ACTIVE", "2026-02-14T12:00:00+00:00")
    for to in ("2026-04-15", "2026-05-15"):  # three renewals: Mar 14, Apr 14, May 14
        await advance(api, run_worker, clock, datetime.fromisoformat(to + "T00:00:00+00:00"))
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"

    card = await api.ok("mutation($c: ID!) { attachPaymentMethod(customer: $c, paymentMethod: "
                        "\"pm_card_chargeCustomerFail\") { id } }", {"c": customer})
    await api.ok("mutation($c: ID!, $pm: ID!) { updateCustomer(id: $c, input: {defaultPaymentMethod: $pm}) { id } }",
                 {"c": customer, "pm": card["attachPaymentMethod"]["id"]})
    await advance(api, run_worker, clock, datetime(2026, 6, 15, tzinfo=UTC))  # Jun 14 renewal fails
    state = await subscription(api, sub["id"])
    assert state["status"] == "PAST_DUE"
    failed = state["latestInvoice"]
    assert (failed["status"], failed["attemptCount"]) == ("OPEN", 1)
    assert failed["nextPaymentAttempt"] == "2026-06-17T13:00:00+00:00"  # 3 days after the first attempt
    await advance(api, run_worker, clock, datetime(2026, 7, 15, tzinfo=UTC))  # retries on Jun 17, 21, 28
    state = await subscription(api, sub["id"])
    assert (state["status"], state["endedAt"]) == ("CANCELED", "2026-06-28T13:00:00+00:00")

    invoices = await invoices_of(api, sub["id"])
    assert [(i["billingReason"], i["total"], i["status"]) for i in invoices] == [
        ("SUBSCRIPTION_CREATE", 0, "PAID"), *[("SUBSCRIPTION_CYCLE", 2000, "PAID")] * 4,
        ("SUBSCRIPTION_CYCLE", 2000, "OPEN")]
    assert [i["number"] for i in invoices] == [f"LIFE-{n:04d}" for n in range(1, 7)]
    assert invoices[-1]["attemptCount"] == 4 and invoices[-1]["nextPaymentAttempt"] is None
    assert [i["periodEnd"][:10] for i in invoices[1:]] == ["2026-02-14", "2026-03-14", "2026-04-14", "2026-05-14",
                                                           "2026-06-14"]

    events = await all_events(api)
    of_sub = [e for e in events if e["data"]["object"].get("id") == sub["id"]]
    statuses = [(e["type"], e["data"]["object"]["status"]) for e in of_sub]
    assert statuses == [
        ("customer.subscription.created", "trialing"),
        ("customer.subscription.trial_will_end", "trialing"),
        ("customer.subscription.updated", "active"),  # trial ended
        *[("customer.subscription.updated", "active")] * 4,  # renewals Mar 14 .. Jun 14 (new period)
        ("customer.subscription.updated", "past_due"),
        ("customer.subscription.deleted", "canceled"),
    ]
    assert of_sub[1]["created"] == "2026-02-11T12:00:00+00:00"
    assert of_sub[-1]["created"] == "2026-06-28T13:00:00+00:00"
    last = invoices[-1]["id"]
    of_last = [(e["type"], e["created"][:16]) for e in events if e["data"]["object"].get("id") == last]
    assert {("invoice.created", "2026-06-14T12:00"), ("invoice.finalized", "2026-06-14T13:00")} <= set(of_last)
    assert [at for type, at in of_last if type == "invoice.payment_failed"] == [
        "2026-06-14T13:00", "2026-06-17T13:00", "2026-06-21T13:00", "2026-06-28T13:00"]
    assert "invoice.paid" not in {type for type, _ in of_last}
    numbers = [e["data"]["object"]["number"] for e in events if e["type"] == "invoice.finalized"]
    assert numbers == [f"LIFE-{n:04d}" for n in range(1, 7)]
