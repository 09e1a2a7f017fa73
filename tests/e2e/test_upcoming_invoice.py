"""upcomingInvoice through HTTP: previews of a change give exactly what the real update gives, are
never stored, and page like any list; without a change, the next renewal of a subscription or customer.

The clock starts on Apr 1 2026 00:00 UTC: a monthly period is 30 days and Apr 16 is exactly half."""
from datetime import UTC, datetime

from app.models import events, invoices, subscriptions
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

LINE = "id amount description proration discountable quantity period { start end } price { id }"
UPCOMING = f"""query($s: ID, $c: ID, $d: UpcomingSubscriptionDetailsInput) {{
  upcomingInvoice(subscription: $s, customer: $c, subscriptionDetails: $d) {{
    id status billingReason total subtotal amountDue periodStart periodEnd
    lines(first: 100) {{ totalCount nodes {{ {LINE} }} }} }} }}"""
PAGE = f"""query($s: ID, $d: UpcomingSubscriptionDetailsInput, $after: String) {{
  upcomingInvoice(subscription: $s, subscriptionDetails: $d) {{
    lines(first: 1, after: $after) {{ totalCount edges {{ cursor node {{ {LINE} }} }}
      pageInfo {{ hasNextPage endCursor }} }} }} }}"""
UPDATE = ("mutation($id: ID!, $input: UpdateSubscriptionInput!) { updateSubscription(id: $id, input: $input) { "
          f"{SUBSCRIPTION_FIELDS} }} }}")
PENDING = f"query($c: ID!) {{ invoiceItems(customer: $c, pending: true, first: 100) {{ nodes {{ {LINE[3:]} }} }} }}"
STORED = (invoices.Invoice, invoices.InvoiceLineItem, invoices.InvoiceItem, invoices.PaymentIntent,
          invoices.TestCharge, events.Event, subscriptions.Subscription, subscriptions.SubscriptionItem)


async def stored() -> dict:
    """How many rows of each kind a preview must never add."""
    return {model.__name__: await model.all().count() for model in STORED}


async def preview(api, sub_id: str | None = None, customer: str | None = None, **details) -> dict:
    data = await api.ok(UPCOMING, {"s": sub_id, "c": customer, "d": details or None})
    return data["upcomingInvoice"]


def key(line: dict) -> tuple:
    """What a line bills (ids of previews are not stored ones)."""
    return (line["amount"], line["description"], line["proration"], line["discountable"], line["quantity"],
            datetime.fromisoformat(line["period"]["start"]), datetime.fromisoformat(line["period"]["end"]),
            line["price"]["id"] if line["price"] else None)


def keys(invoice: dict) -> list[tuple]:
    return [key(line) for line in invoice["lines"]["nodes"]]


async def update(api, sub_id: str, **input) -> dict:
    return (await api.ok(UPDATE, {"id": sub_id, "input": input}))["updateSubscription"]


async def start(api, run_worker, to: datetime = HALF, **extra):
    """A $30/month subscription from Apr 1, the clock moved to `to`, and a $60 and a $300/year price."""
    clock = await create_clock(api, APR_1)
    basic = await create_price(api, 3000, name="Basic")
    premium = await create_price(api, 6000, name="Premium")
    yearly = await create_price(api, 30000, interval="YEAR", name="Basic yearly")
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, basic, **extra)
    if to != APR_1:
        await advance(api, run_worker, clock, to)
    return clock, customer, sub, premium, yearly


async def test_preview_of_a_price_change_is_exactly_the_real_update(api, run_worker):
    clock, customer, sub, premium, _ = await start(api, run_worker, datetime(2026, 4, 16, 5, 30, tzinfo=UTC))
    item = sub["items"]["nodes"][0]["id"]
    change = {"items": [{"id": item, "price": premium}], "prorationDate": HALF.isoformat()}
    before, state = await stored(), await subscription(api, sub["id"])
    upcoming = await preview(api, sub["id"], **change)
    assert await stored() == before and await subscription(api, sub["id"]) == state
    assert upcoming["id"].startswith("upcoming_") and upcoming["status"] == "DRAFT"
    assert upcoming["billingReason"] == "UPCOMING"
    assert [k[:3] for k in keys(upcoming)] == [(6000, "1 × Premium", False),
                                               (-1500, "Unused time on Basic after 16 Apr 2026", True),
                                               (3000, "Remaining time on Premium after 16 Apr 2026", True)]
    assert keys(upcoming)[0][5:7] == (MAY_1, datetime(2026, 6, 1, tzinfo=UTC))
    assert upcoming["total"] == upcoming["amountDue"] == 7500
    again = await preview(api, sub["id"], **change)
    assert again["id"] != upcoming["id"] and {**again, "id": upcoming["id"]} == upcoming

    await update(api, sub["id"], **change)
    pending = list(reversed((await api.ok(PENDING, {"c": customer}))["invoiceItems"]["nodes"]))
    assert [key(p) for p in pending] == keys(upcoming)[1:]
    await advance(api, run_worker, clock, datetime(2026, 5, 1, 2, tzinfo=UTC))
    renewal = (await invoices_of(api, sub["id"]))[-1]
    assert keys(renewal) == keys(upcoming)
    assert (renewal["total"], renewal["subtotal"]) == (upcoming["total"], upcoming["subtotal"])


async def test_preview_of_always_invoice_is_the_invoice_made_at_once(api, run_worker):
    _, _, sub, premium, _ = await start(api, run_worker)
    change = {"items": [{"id": sub["items"]["nodes"][0]["id"], "price": premium, "quantity": 2}],
              "prorationBehavior": "ALWAYS_INVOICE"}
    before = await stored()
    upcoming = await preview(api, sub["id"], **change)
    assert await stored() == before  # not created, not finalized, not charged
    assert [k[:2] for k in keys(upcoming)] == [(-1500, "Unused time on Basic after 16 Apr 2026"),
                                               (6000, "Remaining time on 2 × Premium after 16 Apr 2026")]
    assert upcoming["total"] == 4500 and upcoming["id"].startswith("upcoming_")
    invoice = (await update(api, sub["id"], **change))["latestInvoice"]
    assert invoice["status"] == "PAID" and keys(invoice) == keys(upcoming)
    assert invoice["total"] == upcoming["total"]


async def test_preview_of_an_interval_change_is_the_new_period_invoiced_at_once(api, run_worker):
    _, _, sub, _, yearly = await start(api, run_worker)
    change = {"items": [{"id": sub["items"]["nodes"][0]["id"], "price": yearly}]}
    before = await stored()
    upcoming = await preview(api, sub["id"], **change)
    assert await stored() == before
    assert sorted(k[:3] for k in keys(upcoming)) == [(-1500, "Unused time on Basic after 16 Apr 2026", True),
                                                     (30000, "1 × Basic yearly", False)]
    assert upcoming["total"] == 28500
    invoice = (await update(api, sub["id"], **change))["latestInvoice"]
    assert keys(invoice) == keys(upcoming) and invoice["total"] == 28500


async def test_preview_of_a_billing_cycle_reset(api, run_worker):
    _, _, sub, _, _ = await start(api, run_worker)
    upcoming = await preview(api, sub["id"], billingCycleAnchor="NOW")
    assert sorted(k[:2] for k in keys(upcoming)) == [(-1500, "Unused time on Basic after 16 Apr 2026"),
                                                     (3000, "1 × Basic")]
    invoice = (await update(api, sub["id"], billingCycleAnchor="NOW"))["latestInvoice"]
    assert keys(invoice) == keys(upcoming)


async def test_preview_of_ending_a_trial(api, run_worker):
    _, _, sub, _, _ = await start(api, run_worker, datetime(2026, 4, 5, tzinfo=UTC), trialPeriodDays=14)
    after_trial = await preview(api, sub["id"])  # without the change: the first invoice after the trial
    assert [k[:2] + k[5:7] for k in keys(after_trial)] == [
        (3000, "1 × Basic", datetime(2026, 4, 15, tzinfo=UTC), datetime(2026, 5, 15, tzinfo=UTC))]
    before = await stored()
    upcoming = await preview(api, sub["id"], endTrialNow=True)
    assert await stored() == before
    assert [k[:2] for k in keys(upcoming)] == [(3000, "1 × Basic")]
    assert keys(upcoming)[0][5:7] == (datetime(2026, 4, 5, tzinfo=UTC), datetime(2026, 5, 5, tzinfo=UTC))
    invoice = (await update(api, sub["id"], endTrialNow=True))["latestInvoice"]
    assert keys(invoice) == keys(upcoming)


async def test_proration_date_moves_the_preview_to_the_second(api, run_worker):
    _, _, sub, premium, _ = await start(api, run_worker, datetime(2026, 4, 20, tzinfo=UTC))
    item = sub["items"]["nodes"][0]["id"]
    when = datetime(2026, 4, 12, 6, 0, 1, tzinfo=UTC)
    upcoming = await preview(api, sub["id"], items=[{"id": item, "price": premium}], prorationDate=when.isoformat())
    left, whole = int((MAY_1 - when).total_seconds()), 30 * 86400
    assert [k[0] for k in keys(upcoming)[1:]] == [-((2 * 3000 * left + whole) // (2 * whole)),
                                                  (2 * 6000 * left + whole) // (2 * whole)]
    assert keys(upcoming)[1][1] == "Unused time on Basic after 12 Apr 2026"


async def test_preview_lines_page_like_the_whole_list(api, run_worker):
    _, _, sub, premium, _ = await start(api, run_worker)
    details = {"items": [{"id": sub["items"]["nodes"][0]["id"], "price": premium}]}
    whole = await preview(api, sub["id"], **details)
    paged, after = [], None
    while True:
        data = await api.ok(PAGE, {"s": sub["id"], "d": details, "after": after})
        connection = data["upcomingInvoice"]["lines"]
        assert connection["totalCount"] == 3
        paged += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert len(paged) == 3
    assert paged == whole["lines"]["nodes"]  # the same lines, ids included


async def test_upcoming_invoice_without_details_is_the_next_renewal(api, run_worker):
    clock, customer, sub, _, _ = await start(api, run_worker)
    await api.ok("mutation($c: ID!) { createInvoiceItem(input: {customer: $c, amount: 700, currency: \"usd\", "
                 "description: \"Setup\"}) { id } }", {"c": customer})
    before = await stored()
    by_subscription = await preview(api, sub["id"])
    by_customer = await preview(api, customer=customer)
    field = (await api.ok(f"query($id: ID!) {{ subscription(id: $id) {{ upcomingInvoice {{ total "
                          f"lines {{ nodes {{ {LINE} }} }} }} }} }}", {"id": sub["id"]}))["subscription"]
    assert await stored() == before
    assert [k[:3] for k in keys(by_subscription)] == [(3000, "1 × Basic", False), (700, "Setup", False)]
    assert keys(by_subscription)[0][5:7] == (MAY_1, datetime(2026, 6, 1, tzinfo=UTC))
    assert keys(by_customer) == keys(by_subscription) == keys(field["upcomingInvoice"])
    assert by_subscription["total"] == 3700
    assert (datetime.fromisoformat(by_subscription["periodStart"]),
            datetime.fromisoformat(by_subscription["periodEnd"])) == (APR_1, MAY_1)
    await advance(api, run_worker, clock, datetime(2026, 5, 1, 2, tzinfo=UTC))
    assert keys((await invoices_of(api, sub["id"]))[-1]) == keys(by_subscription)


async def test_previews_apply_the_customer_balance_as_finalization_does(api, run_worker):
    clock, customer, sub, premium, _ = await start(api, run_worker)
    await api.ok("mutation($c: ID!) { createCustomerBalanceTransaction(input: {customer: $c, amount: -1000, "
                 "currency: \"usd\"}) { id } }", {"c": customer})
    query = """query($s: ID, $d: UpcomingSubscriptionDetailsInput) { upcomingInvoice(subscription: $s,
      subscriptionDetails: $d) { total amountDue amountRemaining startingBalance } }"""
    renewal = (await api.ok(query, {"s": sub["id"]}))["upcomingInvoice"]
    assert renewal == {"total": 3000, "amountDue": 2000, "amountRemaining": 2000, "startingBalance": -1000}
    change = {"items": [{"id": sub["items"]["nodes"][0]["id"], "price": premium}],
              "prorationBehavior": "ALWAYS_INVOICE"}
    now = (await api.ok(query, {"s": sub["id"], "d": change}))["upcomingInvoice"]
    assert now == {"total": 1500, "amountDue": 500, "amountRemaining": 500, "startingBalance": -1000}
    invoice = (await update(api, sub["id"], **change))["latestInvoice"]
    assert (invoice["total"], invoice["amountPaid"], invoice["startingBalance"]) == (1500, 500, -1000)


async def test_no_upcoming_invoice(api, run_worker):
    clock = await create_clock(api, APR_1)
    lonely = await create_customer(api, clock)
    status, body = await api.post(UPCOMING, {"c": lonely})
    assert body["errors"][0]["extensions"]["code"] == "invoice_upcoming_none"
    _, _, sub, _, _ = await start(api, run_worker, APR_1)
    await api.ok("mutation($id: ID!) { cancelSubscription(id: $id) { id } }", {"id": sub["id"]})
    status, body = await api.post(UPCOMING, {"s": sub["id"]})
    assert body["errors"][0]["extensions"]["param"] == "subscription"


async def test_a_refused_change_previews_nothing_and_stores_nothing(api, run_worker):
    _, _, sub, _, _ = await start(api, run_worker)
    euros = await create_price(api, 3000, currency="eur", name="Euro")
    before = await stored()
    status, body = await api.post(UPCOMING, {"s": sub["id"], "d": {"items": [{"price": euros}]}})
    assert body["errors"][0]["extensions"]["param"] == "items"
    assert await stored() == before
