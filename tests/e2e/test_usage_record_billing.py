"""Usage records through HTTP on a test clock with a real worker: usage is billed in the period it was
reported in, at the period's end; summaries per period; cancel with invoiceNow and a reset billing
cycle bill the usage to date."""
import asyncio
from datetime import timedelta

from tests.billing_flows import advance, create_price, invoices_of
from tests.usage_record_flows import END, RECORD, START, SUMMARIES, metered_subscription, report


async def test_usage_across_a_period_boundary_is_billed_in_its_own_period(api, run_worker):
    clock, customer, sub, item = await metered_subscription(api)
    [first] = await invoices_of(api, sub)
    assert (first["status"], first["total"]) == ("PAID", 0)  # nothing in advance for usage

    await advance(api, run_worker, clock, START + timedelta(days=10))
    created = await report(api, item, 100)
    assert created["id"].startswith("mbur_") and created["quantity"] == 100
    assert created["timestamp"] == (START + timedelta(days=10)).isoformat()
    await advance(api, run_worker, clock, END - timedelta(seconds=1))
    await report(api, item, 20)  # the last second of the period
    await advance(api, run_worker, clock, END)
    await report(api, item, 7)  # the first second of the next one

    cycle = (await invoices_of(api, sub))[-1]
    assert (cycle["status"], cycle["billingReason"]) == ("DRAFT", "SUBSCRIPTION_CYCLE")
    [line] = cycle["lines"]["nodes"]
    assert (line["quantity"], line["amount"], line["proration"]) == (120, 600, False)
    assert (line["period"]["start"], line["period"]["end"]) == (START.isoformat(), END.isoformat())
    await advance(api, run_worker, clock, END + timedelta(hours=1))
    paid = (await invoices_of(api, sub))[-1]
    assert (paid["id"], paid["status"], paid["amountPaid"]) == (cycle["id"], "PAID", 600)

    upcoming = await api.ok("query($s: ID!) { upcomingInvoice(subscription: $s) { total lines { nodes { quantity "
                            "period { start } } } } }", {"s": sub})
    assert upcoming["upcomingInvoice"]["total"] == 35
    assert upcoming["upcomingInvoice"]["lines"]["nodes"][0]["period"]["start"] == END.isoformat()

    data = await api.ok(SUMMARIES, {"id": sub})
    current, billed = data["subscription"]["items"]["nodes"][0]["usageRecordSummaries"]["nodes"]
    assert (current["totalUsage"], current["period"]["start"], current["invoice"]) == (7, END.isoformat(), None)
    assert (billed["totalUsage"], billed["period"]["end"], billed["invoice"]) == (120, END.isoformat(),
                                                                                   {"id": cycle["id"]})


async def test_usage_outside_the_current_period_or_negative_is_refused(api, run_worker):
    clock, customer, sub, item = await metered_subscription(api)
    await advance(api, run_worker, clock, END + timedelta(days=1))
    for at, quantity, param in ((END - timedelta(seconds=1), 1, "timestamp"),
                                (END + timedelta(days=1, seconds=1), 1, "timestamp"),
                                (None, -5, "quantity")):
        error = await api.error(RECORD, {"input": {"subscriptionItem": item, "quantity": quantity,
                                                   "timestamp": at and at.isoformat()}})
        assert (error["extensions"]["code"], error["extensions"]["param"]) == ("parameter_invalid", param)
    data = await api.ok(SUMMARIES, {"id": sub})
    assert data["subscription"]["items"]["nodes"][0]["usageRecordSummaries"]["nodes"][0]["totalUsage"] == 0


async def test_set_then_increment_through_the_api(api, run_worker):
    clock, customer, sub, item = await metered_subscription(api)
    at = START + timedelta(days=2)
    await advance(api, run_worker, clock, at)
    await report(api, item, 50, at)
    await report(api, item, 10, at, "SET")
    await report(api, item, 5, at, "INCREMENT")
    data = await api.ok(SUMMARIES, {"id": sub})
    assert data["subscription"]["items"]["nodes"][0]["usageRecordSummaries"]["nodes"][0]["totalUsage"] == 15


async def test_cancel_with_invoice_now_bills_the_usage_to_date(api, run_worker):
    clock, customer, sub, item = await metered_subscription(api)
    now = START + timedelta(days=5)
    await advance(api, run_worker, clock, now)
    await report(api, item, 40)
    data = await api.ok("mutation($id: ID!) { cancelSubscription(id: $id, input: {invoiceNow: true}) { status } }",
                        {"id": sub})
    assert data["cancelSubscription"]["status"] == "CANCELED"
    final = (await invoices_of(api, sub))[-1]
    assert (final["status"], final["total"], final["amountPaid"]) == ("PAID", 200, 200)
    [line] = final["lines"]["nodes"]
    assert (line["quantity"], line["period"]["start"], line["period"]["end"]) == (40, START.isoformat(),
                                                                                  now.isoformat())
    error = await api.error(RECORD, {"input": {"subscriptionItem": item, "quantity": 1}})
    assert "canceled" in error["message"]


async def test_cancel_at_period_end_bills_the_last_period(api, run_worker):
    clock, customer, sub, item = await metered_subscription(api, cancelAtPeriodEnd=True)
    await advance(api, run_worker, clock, START + timedelta(days=3))
    await report(api, item, 9)
    await advance(api, run_worker, clock, END)
    final = (await invoices_of(api, sub))[-1]
    assert (final["total"], final["status"], final["periodEnd"]) == (45, "PAID", END.isoformat())


async def test_a_billing_cycle_reset_bills_the_old_period_usage(api, run_worker):
    clock, customer, sub, item = await metered_subscription(api)
    now = START + timedelta(days=12)
    await advance(api, run_worker, clock, now)
    await report(api, item, 30, now - timedelta(hours=1))
    await report(api, item, 1, now)  # the new period starts now: [start, end) as every period
    await api.ok("mutation($id: ID!) { updateSubscription(id: $id, input: {billingCycleAnchor: NOW}) { id } }",
                 {"id": sub})
    reset = (await invoices_of(api, sub))[-1]
    assert (reset["billingReason"], reset["total"]) == ("SUBSCRIPTION_UPDATE", 150)
    [line] = [n for n in reset["lines"]["nodes"] if n["quantity"] == 30]
    assert (line["period"]["start"], line["period"]["end"]) == (START.isoformat(), now.isoformat())
    data = await api.ok(SUMMARIES, {"id": sub})
    usage = [n["totalUsage"] for n in data["subscription"]["items"]["nodes"][0]["usageRecordSummaries"]["nodes"]]
    assert usage == [1, 30]
    pages, after = [], None
    while True:
        data = await api.ok("""query($s: ID!, $after: String) { subscription(id: $s) { items { nodes {
          usageRecordSummaries(first: 1, after: $after) { nodes { totalUsage invoice { id } }
          pageInfo { hasNextPage endCursor } } } } } }""", {"s": sub, "after": after})
        summaries = data["subscription"]["items"]["nodes"][0]["usageRecordSummaries"]
        pages.append([(n["totalUsage"], n["invoice"] and n["invoice"]["id"]) for n in summaries["nodes"]])
        if not summaries["pageInfo"]["hasNextPage"]:
            break
        after = summaries["pageInfo"]["endCursor"]
    assert pages == [[(1, None)], [(30, reset["id"])]]


async def test_usage_during_a_trial_is_not_billed(api, run_worker):
    clock, customer, sub, item = await metered_subscription(api, trialPeriodDays=7)
    await advance(api, run_worker, clock, START + timedelta(days=2))
    await report(api, item, 1000)
    await advance(api, run_worker, clock, START + timedelta(days=7, hours=1))
    trial_end = (await invoices_of(api, sub))[-1]
    [line] = trial_end["lines"]["nodes"]
    assert (trial_end["total"], line["quantity"], line["amount"]) == (0, 1000, 0)
    assert line["description"].endswith("(Trial period)")


async def test_a_retried_request_counts_once(api, run_worker):
    clock, customer, sub, item = await metered_subscription(api)
    await advance(api, run_worker, clock, START + timedelta(days=1))
    variables = {"input": {"subscriptionItem": item, "quantity": 3}}
    first = await api.ok(RECORD, variables, headers={"Idempotency-Key": "usage-1"})
    again = await api.ok(RECORD, variables, headers={"Idempotency-Key": "usage-1"})
    assert again == first
    await api.ok(RECORD, variables, headers={"Idempotency-Key": "usage-2"})
    data = await api.ok(SUMMARIES, {"id": sub})
    assert data["subscription"]["items"]["nodes"][0]["usageRecordSummaries"]["nodes"][0]["totalUsage"] == 6


async def test_concurrent_reports_at_one_timestamp_all_count(pg_api, run_worker):
    """On PostgreSQL: the item's row lock orders concurrent INCREMENTs at one timestamp, none is lost."""
    clock, customer, sub, item = await metered_subscription(pg_api)
    at = START + timedelta(days=1)
    await advance(pg_api, run_worker, clock, at)
    await asyncio.gather(*(report(pg_api, item, 1, at) for _ in range(20)))
    data = await pg_api.ok(SUMMARIES, {"id": sub})
    assert data["subscription"]["items"]["nodes"][0]["usageRecordSummaries"]["nodes"][0]["totalUsage"] == 20


async def test_an_item_with_usage_is_removed_only_with_clear_usage(api, run_worker):
    clock, customer, sub, item = await metered_subscription(api)
    await advance(api, run_worker, clock, START + timedelta(days=1))
    seats = await create_price(api, 1000, name="Seats")
    await api.ok("mutation($id: ID!, $p: ID!) { updateSubscription(id: $id, input: {items: [{price: $p}]}) { id } }",
                 {"id": sub, "p": seats})
    await report(api, item, 5)
    remove = """mutation($id: ID!, $item: ID!, $clear: Boolean) {
      updateSubscription(id: $id, input: {items: [{id: $item, deleted: true, clearUsage: $clear}]}) {
        items { nodes { id } } } }"""
    error = await api.error(remove, {"id": sub, "item": item, "clear": None})
    assert error["extensions"]["param"] == "items.0.clearUsage"
    data = await api.ok(remove, {"id": sub, "item": item, "clear": True})
    assert item not in [n["id"] for n in data["updateSubscription"]["items"]["nodes"]]
