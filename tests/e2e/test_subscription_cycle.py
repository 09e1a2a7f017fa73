"""A subscription's life on a test clock, through HTTP and a real worker."""
from datetime import UTC, datetime

from tests.billing_flows import (
    advance,
    create_clock,
    create_customer,
    create_price,
    invoices_of,
    subscribe,
    subscription,
)


async def test_monthly_subscription_renews_and_pays(api, run_worker):
    clock = await create_clock(api)
    price = await create_price(api, 2000)
    customer = await create_customer(api, clock)
    sub = await subscribe(api, customer, price, quantity=2)
    assert sub["status"] == "ACTIVE"
    first = sub["latestInvoice"]
    assert first["status"] == "PAID" and first["total"] == 4000 and first["billingReason"] == "SUBSCRIPTION_CREATE"
    assert sub["currentPeriodEnd"].startswith("2026-02-28T12:00:00")
    await advance(api, run_worker, clock, datetime(2026, 3, 1, 13, 0, tzinfo=UTC))
    state = await subscription(api, sub["id"])
    assert state["currentPeriodEnd"].startswith("2026-03-31T12:00:00")
    invoices = await invoices_of(api, sub["id"])
    assert [i["status"] for i in invoices] == ["PAID", "PAID"]
    assert invoices[1]["billingReason"] == "SUBSCRIPTION_CYCLE" and invoices[1]["total"] == 4000
    assert [i["number"][-4:] for i in invoices] == ["0001", "0002"]
