"""Shared steps for usage-record and credit-grant tests through HTTP: a metered price, a subscription to
it on a test clock, usage reports."""
from datetime import UTC, datetime

from tests.billing_flows import INVOICE_FIELDS, create_clock, create_customer

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
END = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)

RECORD = """mutation($input: CreateUsageRecordInput!) {
  createUsageRecord(input: $input) { id quantity timestamp subscriptionItem { id } } }"""
SUMMARIES = """query($id: ID!) { subscription(id: $id) { items { nodes {
  usageRecordSummaries(first: 10) { nodes { id totalUsage period { start end } invoice { id } } } } } } }"""


async def metered_price(api, unit_amount: int = 5, aggregate: str = "SUM", **extra) -> str:
    product = (await api.ok('mutation { createProduct(input: {name: "API calls"}) { id } }'))["createProduct"]["id"]
    data = await api.ok("mutation($input: CreatePriceInput!) { createPrice(input: $input) { id } }", {"input": {
        "product": product, "currency": "usd", "unitAmount": unit_amount,
        "recurring": {"interval": "MONTH", "usageType": "METERED", "aggregateUsage": aggregate}, **extra}})
    return data["createPrice"]["id"]


async def metered_subscription(api, **extra) -> tuple[str, str, str, str]:
    """(clock, customer, subscription, item) for a subscription to one metered price from START."""
    clock = await create_clock(api, START)
    customer = await create_customer(api, clock)
    price = await metered_price(api)
    data = await api.ok(
        "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { id status "
        f"items {{ nodes {{ id }} }} latestInvoice {{ {INVOICE_FIELDS} }} }} }}",
        {"input": {"customer": customer, "items": [{"price": price}], **extra}})
    sub = data["createSubscription"]
    return clock, customer, sub["id"], sub["items"]["nodes"][0]["id"]


async def report(api, item: str, quantity: int, at: datetime | None = None, action: str | None = None) -> dict:
    data = await api.ok(RECORD, {"input": {"subscriptionItem": item, "quantity": quantity,
                                           "timestamp": at and at.isoformat(), "action": action}})
    return data["createUsageRecord"]
