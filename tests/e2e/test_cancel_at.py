"""cancelAt as Stripe bills it, through HTTP with a real worker. In a later period it cuts that final period
short: its renewal bills it only up to cancelAt, prorated to the second, and the subscription ends there.
Inside the current period it credits the unused time (per prorationBehavior), invoiced when it ends.
The subscription starts on Jan 31 12:00 and renews on Feb 28 12:00 (28 days), then on Mar 31 12:00."""
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

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
from tests.e2e.test_upcoming_invoice import PENDING, keys, preview

FEB_28 = datetime(2026, 2, 28, 12, tzinfo=UTC)
MAR_31 = datetime(2026, 3, 31, 12, tzinfo=UTC)
WEEK = timedelta(days=7)
UPDATE = "mutation($id: ID!, $input: UpdateSubscriptionInput!) { updateSubscription(id: $id, input: $input) { id } }"
FIELD = "query($id: ID!) { subscription(id: $id) { upcomingInvoice { total } } }"


def prorated(amount: int, start: datetime, stop: datetime, end: datetime) -> int:
    """`amount` for [start, stop) of the whole [start, end), to the second, half-up."""
    share = Decimal(int((stop - start).total_seconds())) / Decimal(int((end - start).total_seconds()))
    return int((amount * share).quantize(Decimal(1), ROUND_HALF_UP))


async def monthly(api, **extra) -> tuple[str, str, dict]:
    clock = await create_clock(api)
    customer = await create_customer(api, clock)
    return clock, customer, await subscribe(api, customer, await create_price(api, 2000), **extra)


async def pending(api, customer: str) -> list[dict]:
    return (await api.ok(PENDING, {"c": customer}))["invoiceItems"]["nodes"]


async def balance(api, customer: str) -> int:
    return (await api.ok("query($c: ID!) { customer(id: $c) { balance } }", {"c": customer}))["customer"]["balance"]


async def set_cancel_at(api, sub_id: str, cancel_at: datetime | None, **extra) -> None:
    await api.ok(UPDATE, {"id": sub_id, "input": {"cancelAt": cancel_at and cancel_at.isoformat(), **extra}})


async def test_cancel_at_in_the_next_period_bills_it_up_to_cancel_at_and_ends_there(api, run_worker):
    cancel_at = datetime(2026, 3, 15, 9, 30, 17, tzinfo=UTC)
    clock, customer, sub = await monthly(api, cancelAt=cancel_at.isoformat())
    amount = prorated(2000, FEB_28, cancel_at, MAR_31)
    upcoming = await preview(api, sub["id"])
    assert upcoming["total"] == amount == 961  # 14 days 21:30:17 of 31 days
    [line] = upcoming["lines"]["nodes"]
    assert (line["proration"], line["period"]) == (True, {"start": FEB_28.isoformat(), "end": cancel_at.isoformat()})
    await advance(api, run_worker, clock, FEB_28 + timedelta(hours=2))
    renewed = await subscription(api, sub["id"])
    assert (renewed["status"], renewed["currentPeriodStart"], renewed["currentPeriodEnd"]) == (
        "ACTIVE", FEB_28.isoformat(), cancel_at.isoformat())
    renewal = renewed["latestInvoice"]
    assert (renewal["billingReason"], renewal["status"], renewal["total"]) == ("SUBSCRIPTION_CYCLE", "PAID", amount)
    assert keys(renewal) == keys(upcoming)
    assert (await api.ok(FIELD, {"id": sub["id"]}))["subscription"]["upcomingInvoice"] is None
    await advance(api, run_worker, clock, cancel_at - timedelta(seconds=1))
    assert (await subscription(api, sub["id"]))["status"] == "ACTIVE"
    await advance(api, run_worker, clock, datetime(2026, 5, 15, tzinfo=UTC))
    ended = await subscription(api, sub["id"])
    assert (ended["status"], ended["endedAt"]) == ("CANCELED", cancel_at.isoformat())
    assert [i["billingReason"] for i in await invoices_of(api, sub["id"])] == ["SUBSCRIPTION_CREATE",
                                                                              "SUBSCRIPTION_CYCLE"]
    assert await pending(api, customer) == [] and await balance(api, customer) == 0


async def test_cancel_at_two_periods_ahead_renews_the_next_one_whole(api, run_worker):
    cancel_at = datetime(2026, 4, 10, tzinfo=UTC)
    clock, _, sub = await monthly(api, cancelAt=cancel_at.isoformat())
    assert (await preview(api, sub["id"]))["total"] == 2000
    await advance(api, run_worker, clock, FEB_28 + timedelta(hours=2))
    assert (await subscription(api, sub["id"]))["currentPeriodEnd"] == MAR_31.isoformat()
    upcoming = await preview(api, sub["id"])
    await advance(api, run_worker, clock, MAR_31 + timedelta(hours=2))
    renewed = await subscription(api, sub["id"])
    assert renewed["currentPeriodEnd"] == cancel_at.isoformat()
    assert renewed["latestInvoice"]["total"] == upcoming["total"] == prorated(2000, MAR_31, cancel_at,
                                                                              datetime(2026, 4, 30, 12, tzinfo=UTC))
    assert keys(renewed["latestInvoice"]) == keys(upcoming)


async def test_cancel_at_inside_the_current_period_credits_the_unused_time_on_a_final_invoice(api, run_worker):
    clock, customer, sub = await monthly(api)
    await advance(api, run_worker, clock, START + WEEK)
    cancel_at = FEB_28 - WEEK
    await set_cancel_at(api, sub["id"], cancel_at)
    [credit] = await pending(api, customer)
    assert (credit["amount"], credit["proration"], credit["discountable"]) == (-500, True, False)  # 7 of 28 days
    assert credit["description"] == "Unused time on Pro after 21 Feb 2026"
    assert credit["period"] == {"start": cancel_at.isoformat(), "end": FEB_28.isoformat()}
    assert (await api.ok(FIELD, {"id": sub["id"]}))["subscription"]["upcomingInvoice"] is None
    await advance(api, run_worker, clock, MAR_31)
    ended = await subscription(api, sub["id"])
    assert (ended["status"], ended["endedAt"]) == ("CANCELED", cancel_at.isoformat())
    first, final = await invoices_of(api, sub["id"])
    assert (final["billingReason"], final["status"], final["total"]) == ("SUBSCRIPTION_UPDATE", "PAID", -500)
    assert [(n["amount"], n["proration"]) for n in final["lines"]["nodes"]] == [(-500, True)]
    assert await pending(api, customer) == [] and await balance(api, customer) == -500


async def test_moving_or_clearing_cancel_at_prorates_the_difference(api, run_worker):
    clock, customer, sub = await monthly(api)
    await advance(api, run_worker, clock, START + WEEK)
    await set_cancel_at(api, sub["id"], START + 2 * WEEK)  # 14 unused days: -1000
    await set_cancel_at(api, sub["id"], FEB_28 - WEEK)  # 7 of them used again: +500
    assert sorted(n["amount"] for n in await pending(api, customer)) == [-1000, 500]
    await set_cancel_at(api, sub["id"], None)  # the last 7 days too: +500
    assert sorted(n["amount"] for n in await pending(api, customer)) == [-1000, 500, 500]
    await advance(api, run_worker, clock, FEB_28 + timedelta(hours=2))
    renewed = await subscription(api, sub["id"])
    assert (renewed["status"], renewed["cancelAt"], renewed["latestInvoice"]["total"]) == ("ACTIVE", None, 2000)
    assert await pending(api, customer) == []


async def test_cancel_at_inside_the_current_period_without_proration(api, run_worker):
    clock, customer, sub = await monthly(api)
    await advance(api, run_worker, clock, START + WEEK)
    await set_cancel_at(api, sub["id"], FEB_28 - WEEK, prorationBehavior="NONE")
    assert await pending(api, customer) == []
    await advance(api, run_worker, clock, MAR_31)
    assert (await subscription(api, sub["id"]))["status"] == "CANCELED"
    assert len(await invoices_of(api, sub["id"])) == 1 and await balance(api, customer) == 0


async def test_cancel_at_with_always_invoice_invoices_the_credit_at_once(api, run_worker):
    clock, customer, sub = await monthly(api)
    await advance(api, run_worker, clock, START + WEEK)
    await set_cancel_at(api, sub["id"], FEB_28 - WEEK, prorationBehavior="ALWAYS_INVOICE")
    first, credit = await invoices_of(api, sub["id"])
    assert (credit["billingReason"], credit["status"], credit["total"]) == ("SUBSCRIPTION_UPDATE", "PAID", -500)
    assert await pending(api, customer) == [] and await balance(api, customer) == -500
    await advance(api, run_worker, clock, MAR_31)
    assert (await subscription(api, sub["id"]))["status"] == "CANCELED"
    assert len(await invoices_of(api, sub["id"])) == 2


async def test_moving_cancel_at_out_of_a_cut_final_period_charges_the_time_added(api, run_worker):
    cancel_at = datetime(2026, 3, 15, 12, tzinfo=UTC)
    clock, customer, sub = await monthly(api, cancelAt=cancel_at.isoformat())
    await advance(api, run_worker, clock, FEB_28 + timedelta(hours=2))
    await set_cancel_at(api, sub["id"], None)
    [charge] = await pending(api, customer)
    assert charge["amount"] == prorated(2000, FEB_28, MAR_31, MAR_31) - prorated(2000, FEB_28, cancel_at, MAR_31)
    assert (await subscription(api, sub["id"]))["currentPeriodEnd"] == MAR_31.isoformat()
    assert (await preview(api, sub["id"]))["total"] == 2000 + charge["amount"]


async def test_created_with_cancel_at_in_its_first_period_credits_it_on_the_first_invoice(api):
    _, customer, sub = await monthly(api, cancelAt=(FEB_28 - WEEK).isoformat())
    assert sub["latestInvoice"]["total"] == 1500 and await balance(api, customer) == 0
    assert (await api.ok(FIELD, {"id": sub["id"]}))["subscription"]["upcomingInvoice"] is None
    _, customer, sub = await monthly(api, cancelAt=(FEB_28 - WEEK).isoformat(), prorationBehavior="NONE")
    assert sub["latestInvoice"]["total"] == 2000


async def test_a_short_first_period_is_credited_as_it_was_billed(api):
    anchor, cancel_at = datetime(2026, 2, 10, 12, tzinfo=UTC), datetime(2026, 2, 5, 12, tzinfo=UTC)
    whole = anchor - datetime(2026, 1, 10, 12, tzinfo=UTC)  # the interval ending at the anchor: 31 days
    _, _, sub = await monthly(api, billingCycleAnchor=anchor.isoformat(), cancelAt=cancel_at.isoformat())
    charge = prorated(2000, anchor - whole, anchor - whole + (anchor - START), anchor)  # 10 days: 645
    credit = prorated(2000, anchor - whole, anchor - whole + (anchor - cancel_at), anchor)  # 5 days: 323
    assert sorted(n["amount"] for n in sub["latestInvoice"]["lines"]["nodes"]) == [-credit, charge]
    assert sub["latestInvoice"]["total"] == charge - credit == 322
