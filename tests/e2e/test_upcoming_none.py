"""upcomingInvoice of a subscription that will not renew: Stripe's invoice_upcoming_none error for the
query, null for Subscription.upcomingInvoice. The clock starts on Apr 1 2026: the period ends May 1."""
from datetime import UTC, datetime

from tests.billing_flows import create_clock, create_customer, create_price, subscribe
from tests.e2e.test_upcoming_invoice import APR_1, MAY_1, UPCOMING, preview, update

FIELD = "query($id: ID!) { subscription(id: $id) { upcomingInvoice { total } } }"


async def _setup(api, **extra) -> tuple[str, dict]:
    clock = await create_clock(api, APR_1)
    price = await create_price(api, 3000, name="Basic")
    customer = await create_customer(api, clock)
    return customer, await subscribe(api, customer, price, **extra)


async def _none(api, sub_id: str | None = None, customer: str | None = None, details: dict | None = None) -> None:
    _, body = await api.post(UPCOMING, {"s": sub_id, "c": customer, "d": details})
    assert body["data"] is None or body["data"]["upcomingInvoice"] is None
    extensions = body["errors"][0]["extensions"]
    assert extensions["code"] == "invoice_upcoming_none" and extensions["type"] == "invalid_request_error"
    if sub_id is not None and not details:
        field = await api.ok(FIELD, {"id": sub_id})
        assert field["subscription"]["upcomingInvoice"] is None


async def test_cancel_at_period_end_has_no_upcoming_invoice(api):
    customer, sub = await _setup(api)
    assert (await preview(api, sub["id"]))["total"] == 3000
    await _none(api, sub["id"], details={"cancelAtPeriodEnd": True})  # a preview of the change too
    await update(api, sub["id"], cancelAtPeriodEnd=True)
    await _none(api, sub["id"])
    await _none(api, customer=customer)
    await update(api, sub["id"], cancelAtPeriodEnd=False)
    assert (await preview(api, sub["id"]))["total"] == 3000


async def test_paused_subscription_has_no_upcoming_invoice(api):
    customer, sub = await _setup(api)
    await api.ok("mutation($id: ID!) { pauseSubscription(id: $id) { status } }", {"id": sub["id"]})
    await _none(api, sub["id"])
    await _none(api, customer=customer)


async def test_cancel_at_before_the_next_period_has_no_upcoming_invoice(api):
    customer, sub = await _setup(api)
    await update(api, sub["id"], cancelAt=datetime(2026, 4, 20, tzinfo=UTC).isoformat())
    await _none(api, sub["id"])
    await _none(api, customer=customer)
    await update(api, sub["id"], cancelAt=MAY_1.isoformat())  # ends exactly with the period: nothing after it
    await _none(api, sub["id"])


async def test_cancel_at_in_a_later_period_keeps_the_upcoming_invoice(api):
    _, sub = await _setup(api, cancelAt=datetime(2026, 6, 15, tzinfo=UTC).isoformat())
    upcoming = await preview(api, sub["id"])
    assert upcoming["total"] == 3000 and upcoming["lines"]["nodes"][0]["period"]["start"].startswith("2026-05-01")


async def test_customer_preview_skips_a_subscription_that_will_not_renew(api):
    clock = await create_clock(api, APR_1)
    basic = await create_price(api, 3000, name="Basic")
    later = await create_price(api, 5000, name="Later", interval="YEAR")
    customer = await create_customer(api, clock)
    ending = await subscribe(api, customer, basic, cancelAtPeriodEnd=True)
    await subscribe(api, customer, later)
    upcoming = await preview(api, customer=customer)
    assert upcoming["total"] == 5000
    await _none(api, ending["id"])
