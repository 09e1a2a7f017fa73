"""Shared steps for billing tests through HTTP: catalog and customers on a test clock, subscriptions,
and advancing the clock with a real worker."""
from datetime import UTC, datetime

START = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)

INVOICE_FIELDS = """id number status total subtotal amountDue amountPaid amountRemaining billingReason attemptCount
  startingBalance endingBalance periodStart periodEnd dueDate nextPaymentAttempt autoAdvance
  totalDiscountAmounts { amount discount { id } }
  lines(first: 100) { totalCount nodes { amount description proration discountable quantity type
    period { start end } price { id } } }"""

SUBSCRIPTION_FIELDS = f"""id status currentPeriodStart currentPeriodEnd billingCycleAnchor trialStart trialEnd
  cancelAtPeriodEnd cancelAt canceledAt endedAt collectionMethod daysUntilDue
  pauseCollection {{ behavior resumesAt }} items {{ nodes {{ id quantity price {{ id }} }} }}
  latestInvoice {{ {INVOICE_FIELDS} }}"""


async def create_clock(api, frozen_time: datetime = START) -> str:
    data = await api.ok("mutation($t: DateTime!) { createTestClock(input: {frozenTime: $t}) { id } }",
                        {"t": frozen_time.isoformat()})
    return data["createTestClock"]["id"]


async def create_price(api, unit_amount: int = 2000, interval: str = "MONTH", currency: str = "usd",
                       name: str = "Pro", **extra) -> str:
    product = (await api.ok("mutation($n: String!) { createProduct(input: {name: $n}) { id } }",
                            {"n": name}))["createProduct"]["id"]
    data = await api.ok(
        "mutation($input: CreatePriceInput!) { createPrice(input: $input) { id } }",
        {"input": {"product": product, "currency": currency, "unitAmount": unit_amount,
                   "recurring": {"interval": interval}, **extra}})
    return data["createPrice"]["id"]


async def create_customer(api, clock: str | None, card: str | None = "pm_card_visa", **extra) -> str:
    data = await api.ok("mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id } }",
                        {"input": {"email": "c@example.com", "testClock": clock, "paymentMethod": card, **extra}})
    return data["createCustomer"]["id"]


async def subscribe(api, customer: str, price: str, quantity: int = 1, **extra) -> dict:
    data = await api.ok(
        "mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { "
        f"{SUBSCRIPTION_FIELDS} }} }}",
        {"input": {"customer": customer, "items": [{"price": price, "quantity": quantity}], **extra}})
    return data["createSubscription"]


async def subscription(api, id: str) -> dict:
    data = await api.ok(f"query($id: ID!) {{ subscription(id: $id) {{ {SUBSCRIPTION_FIELDS} }} }}", {"id": id})
    return data["subscription"]


async def invoices_of(api, subscription_id: str) -> list[dict]:
    """The subscription's invoices, oldest first."""
    query = f"query($s: ID!) {{ invoices(subscription: $s, first: 100) {{ nodes {{ {INVOICE_FIELDS} }} }} }}"
    data = await api.ok(query, {"s": subscription_id})
    return list(reversed(data["invoices"]["nodes"]))


async def advance(api, run_worker, clock: str, to: datetime) -> None:
    """Advance the clock and let a real worker run every step due on the way; the clock ends READY."""
    data = await api.ok("mutation($id: ID!, $t: DateTime!) { advanceTestClock(id: $id, frozenTime: $t) { status } }",
                        {"id": clock, "t": to.isoformat()})
    assert data["advanceTestClock"]["status"] == "ADVANCING"
    await run_worker()
    state = await api.ok("query($id: ID!) { testClock(id: $id) { status frozenTime } }", {"id": clock})
    assert state["testClock"]["status"] == "READY", state
    assert datetime.fromisoformat(state["testClock"]["frozenTime"]) == to


async def event_types(api, object_id: str | None = None, prefix: str | None = None) -> list[str]:
    """Event types, oldest first, optionally of one object or type family."""
    data = await api.ok("query { events(first: 100) { nodes { type data } } }")
    nodes = reversed(data["events"]["nodes"])
    return [n["type"] for n in nodes
            if (object_id is None or n["data"]["object"].get("id") == object_id)
            and (prefix is None or n["type"].startswith(prefix))]
