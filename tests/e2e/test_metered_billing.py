"""Metered prices billed from meter events on a test clock, through HTTP and a real worker: usage around a
period boundary lands in the right invoice, late usage is stored but not billed, trials bill no usage,
and tiers / transform_quantity / decimal prices apply to the period's total."""
from datetime import timedelta

from tests.api.test_meters import EVENTS, SUMMARIES, event, meter
from tests.billing_flows import START, advance, create_clock, create_customer, invoices_of

PERIOD_END = START.replace(month=2, day=28)  # the first monthly period of START (Jan 31) ends Feb 28


async def _metered_price(api, meter_id: str, **pricing) -> str:
    product = (await api.ok("mutation { createProduct(input: {name: \"Calls\"}) { id } }"))["createProduct"]["id"]
    data = await api.ok("mutation($input: CreatePriceInput!) { createPrice(input: $input) { id } }", {"input": {
        "product": product, "currency": "usd", "recurring": {"interval": "MONTH", "usageType": "METERED",
                                                            "meter": meter_id}, **pricing}})
    return data["createPrice"]["id"]


async def _subscribe(api, customer: str, price: str, **extra) -> dict:
    data = await api.ok("mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id status "
                        "latestInvoice { total } } }",
                        {"input": {"customer": customer, "items": [{"price": price}], **extra}})
    return data["createSubscription"]


def _metered(invoice: dict) -> list[tuple[int, int]]:
    return [(line["quantity"], line["amount"]) for line in invoice["lines"]["nodes"]]


async def test_usage_around_a_period_boundary_is_billed_in_its_period(api, run_worker, redis):
    m = await meter(api)
    price = await _metered_price(api, m["id"], unitAmount=3)
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    sub = await _subscribe(api, customer, price)
    assert sub["status"] == "ACTIVE" and sub["latestInvoice"]["total"] == 0
    sent = await api.ok(EVENTS, {"events": [event(customer, "100", START + timedelta(minutes=1))]})
    assert sent["createMeterEvents"]["accepted"] == 1
    await advance(api, run_worker, clock, PERIOD_END - timedelta(minutes=2))
    last_second, first_second = PERIOD_END - timedelta(seconds=1), PERIOD_END
    sent = await api.ok(EVENTS, {"events": [event(customer, "20", last_second), event(customer, "7", first_second)]})
    assert sent["createMeterEvents"]["accepted"] == 2
    await advance(api, run_worker, clock, PERIOD_END + timedelta(hours=2))  # renewal, finalization, payment
    invoices = await invoices_of(api, sub["id"])
    assert [i["billingReason"] for i in invoices] == ["SUBSCRIPTION_CREATE", "SUBSCRIPTION_CYCLE"]
    cycle = invoices[1]
    assert _metered(cycle) == [(120, 360)] and cycle["total"] == 360 and cycle["status"] == "PAID"
    line = cycle["lines"]["nodes"][0]
    assert (line["period"]["start"], line["period"]["end"]) == (START.isoformat(), PERIOD_END.isoformat())

    # Late usage for the invoiced period is stored and summarized, but never billed.
    await api.ok(EVENTS, {"events": [event(customer, "1000", PERIOD_END - timedelta(minutes=1))]})
    await advance(api, run_worker, clock, PERIOD_END.replace(month=3, day=31) + timedelta(hours=2))
    invoices = await invoices_of(api, sub["id"])
    assert _metered(invoices[2]) == [(7, 21)]
    summary = await api.ok(SUMMARIES, {"m": m["id"], "c": customer, "s": START.isoformat(),
                                       "e": PERIOD_END.isoformat()})
    assert summary["meterEventSummaries"][0]["aggregatedValue"] == "1120"


async def test_trial_usage_is_not_billed(api, run_worker, redis):
    m = await meter(api)
    price = await _metered_price(api, m["id"], unitAmount=10)
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    sub = await _subscribe(api, customer, price, trialPeriodDays=7)
    assert sub["status"] == "TRIALING"
    await api.ok(EVENTS, {"events": [event(customer, "50", START + timedelta(minutes=1))]})
    trial_end = START + timedelta(days=7)
    await advance(api, run_worker, clock, trial_end - timedelta(minutes=1))
    await api.ok(EVENTS, {"events": [event(customer, "5", trial_end - timedelta(seconds=1)),
                                     event(customer, "2", trial_end + timedelta(seconds=1))]})
    await advance(api, run_worker, clock, trial_end + timedelta(hours=2))
    after_trial = (await invoices_of(api, sub["id"]))[-1]
    assert _metered(after_trial) == [(0, 0)]
    await advance(api, run_worker, clock, trial_end.replace(month=3) + timedelta(hours=2))
    assert _metered((await invoices_of(api, sub["id"]))[-1]) == [(2, 20)]


async def test_tiers_transform_and_decimal_prices_apply_to_the_total(api, run_worker, redis):
    prices = {}
    for name, pricing in {
        "graduated": {"billingScheme": "TIERED", "tiersMode": "GRADUATED",
                      "tiers": [{"upTo": 10, "unitAmount": 5}, {"upTo": None, "unitAmount": 1}]},
        "packages": {"unitAmount": 100, "transformQuantity": {"divideBy": 10, "round": "UP"}},
        "fractional": {"unitAmountDecimal": "0.35"},
    }.items():
        m = await meter(api, name)
        prices[name] = await _metered_price(api, m["id"], **pricing)
    clock = await create_clock(api)
    customers = {}
    for name, price in prices.items():
        customers[name] = await create_customer(api, clock)
        await _subscribe(api, customers[name], price)
    at = START + timedelta(minutes=1)
    await api.ok(EVENTS, {"events": [event(customers[name], value, at, name=name) for name, values in
                                     {"graduated": ("7", "8"), "packages": ("21",), "fractional": ("2.5", "1")}.items()
                                     for value in values]})
    await advance(api, run_worker, clock, PERIOD_END + timedelta(hours=2))
    totals = {}
    for name, customer in customers.items():
        data = await api.ok("query($c: ID!) { invoices(customer: $c) { nodes { billingReason lines { nodes { "
                            "quantity amount } } } } }", {"c": customer})
        cycle = [i for i in data["invoices"]["nodes"] if i["billingReason"] == "SUBSCRIPTION_CYCLE"][0]
        totals[name] = [(n["quantity"], n["amount"]) for n in cycle["lines"]["nodes"]]
    assert totals == {"graduated": [(15, 55)], "packages": [(3, 300)], "fractional": [(4, 1)]}


async def test_invoicing_now_through_the_api_bills_usage_not_yet_drained(api, run_worker, redis):
    """No worker drains between the events and the mutation: the API stores them itself before it invoices."""
    m = await meter(api)
    price = await _metered_price(api, m["id"], unitAmount=3)
    clock = await create_clock(api)
    customer, other = await create_customer(api, clock), await create_customer(api, clock)
    reset = await _subscribe(api, customer, price)
    canceled = await _subscribe(api, other, price)
    await advance(api, run_worker, clock, START + timedelta(days=3))
    second = START + timedelta(days=2)
    sent = await api.ok(EVENTS, {"events": [event(customer, "5", second), event(other, "4", second)]})
    assert sent["createMeterEvents"]["accepted"] == 2

    await api.ok("mutation($id: ID!) { updateSubscription(id: $id, input: {billingCycleAnchor: NOW, "
                 "prorationBehavior: NONE}) { id } }", {"id": reset["id"]})
    update = (await invoices_of(api, reset["id"]))[-1]
    assert update["billingReason"] == "SUBSCRIPTION_UPDATE"
    assert _metered(update) == [(5, 15)]

    await api.ok(EVENTS, {"events": [event(other, "3", second + timedelta(minutes=1))]})
    await api.ok("mutation($id: ID!) { cancelSubscription(id: $id, input: {invoiceNow: true}) { status } }",
                 {"id": canceled["id"]})
    final = (await invoices_of(api, canceled["id"]))[-1]
    assert final["billingReason"] == "SUBSCRIPTION_UPDATE"
    assert _metered(final) == [(7, 21)]


async def test_usage_reported_while_the_renewal_is_a_draft_is_billed_on_it(api, run_worker, redis):
    """Stripe's finalization grace period: the draft takes the latest usage of its period when it is finalized,
    by the worker an hour after the period end or through finalizeInvoice."""
    m = await meter(api)
    price = await _metered_price(api, m["id"], unitAmount=3)
    clock = await create_clock(api)
    auto, manual = await create_customer(api, clock), await create_customer(api, clock)
    auto_sub, manual_sub = await _subscribe(api, auto, price), await _subscribe(api, manual, price)
    await api.ok(EVENTS, {"events": [event(auto, "100", START + timedelta(minutes=1)),
                                     event(manual, "10", START + timedelta(minutes=1))]})
    await advance(api, run_worker, clock, PERIOD_END + timedelta(minutes=30))
    [auto_draft] = (await invoices_of(api, auto_sub["id"]))[1:]
    [manual_draft] = (await invoices_of(api, manual_sub["id"]))[1:]
    assert (auto_draft["status"], _metered(auto_draft)) == ("DRAFT", [(100, 300)])
    assert (manual_draft["status"], _metered(manual_draft)) == ("DRAFT", [(10, 30)])

    late = PERIOD_END - timedelta(seconds=10)
    await api.ok(EVENTS, {"events": [event(auto, "20", late), event(manual, "5", late),
                                     event(manual, "1", PERIOD_END)]})  # the next period's
    finalized = await api.ok("mutation($id: ID!) { finalizeInvoice(id: $id) { status total amountDue lines(first: 10) "
                             "{ nodes { quantity amount } } } }", {"id": manual_draft["id"]})
    assert _metered(finalized["finalizeInvoice"]) == [(15, 45)]
    assert finalized["finalizeInvoice"]["total"] == finalized["finalizeInvoice"]["amountDue"] == 45

    await advance(api, run_worker, clock, PERIOD_END + timedelta(hours=2))
    renewal = (await invoices_of(api, auto_sub["id"]))[1]
    assert (renewal["status"], _metered(renewal), renewal["amountPaid"]) == ("PAID", [(120, 360)], 360)
