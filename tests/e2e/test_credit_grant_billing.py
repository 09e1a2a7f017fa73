"""Credit grants through HTTP on a test clock with a real worker: credits pay the metered part of renewal
invoices until they are used up, expire or are voided; the grant, its ledger and its events follow."""
from datetime import timedelta

from tests.billing_flows import advance, event_types, invoices_of
from tests.usage_record_flows import END, START, metered_subscription, report

GRANT_FIELDS = """id name amount currency category priority effectiveAt expiresAt voidedAt availableBalance
  customer { id } applicabilityConfig { scope { priceType } }
  balanceTransactions(first: 20) { nodes { type kind amount invoice { id } } }"""
CREATE = f"""mutation($input: CreateCreditGrantInput!) {{ createCreditGrant(input: $input) {{ {GRANT_FIELDS} }} }}"""
CREDITS = "totalPretaxCreditAmounts { amount creditGrant { id } creditBalanceTransaction { id kind amount } }"


async def grant(api, customer: str, amount: int, **extra) -> dict:
    data = await api.ok(CREATE, {"input": {"customer": customer, "amount": amount, "currency": "usd",
                                           "category": "PROMOTIONAL", **extra}})
    return data["createCreditGrant"]


async def grant_state(api, id: str) -> dict:
    return (await api.ok(f"query($id: ID!) {{ node(id: $id) {{ ... on CreditGrant {{ {GRANT_FIELDS} }} }} }}",
                         {"id": id}))["node"]


async def credits_of(api, invoice: str) -> dict:
    data = await api.ok(f"query($id: ID!) {{ invoice(id: $id) {{ total amountDue amountPaid status {CREDITS} }} }}",
                        {"id": invoice})
    return data["invoice"]


async def test_credits_pay_usage_until_exhausted(api, run_worker):
    clock, customer, sub, item = await metered_subscription(api)  # 5 per unit
    created = await grant(api, customer, 800, name="Welcome credit")
    assert (created["availableBalance"], created["category"], created["priority"]) == (800, "PROMOTIONAL", 50)
    assert created["applicabilityConfig"] == {"scope": {"priceType": "METERED"}}
    assert created["effectiveAt"] == START.isoformat() and created["id"].startswith("credgr_")

    await advance(api, run_worker, clock, START + timedelta(days=3))
    await report(api, item, 100)  # 500
    upcoming = await api.ok(f"query($s: ID!) {{ upcomingInvoice(subscription: $s) {{ total {CREDITS} }} }}",
                            {"s": sub})
    assert upcoming["upcomingInvoice"]["total"] == 0
    assert upcoming["upcomingInvoice"]["totalPretaxCreditAmounts"] == [
        {"amount": 500, "creditGrant": {"id": created["id"]}, "creditBalanceTransaction": None}]
    assert (await grant_state(api, created["id"]))["availableBalance"] == 800  # a preview spends nothing

    await advance(api, run_worker, clock, END + timedelta(hours=1))
    first = (await invoices_of(api, sub))[-1]
    paid = await credits_of(api, first["id"])
    assert (first["subtotal"], paid["total"], paid["amountPaid"], paid["status"]) == (500, 0, 0, "PAID")
    [applied] = paid["totalPretaxCreditAmounts"]
    assert applied["amount"] == 500 and applied["creditBalanceTransaction"]["kind"] == "credits_applied"
    assert (await grant_state(api, created["id"]))["availableBalance"] == 300

    await report(api, item, 200)  # 1000: 300 from the grant, 700 charged
    second_end = END + timedelta(days=30)
    await advance(api, run_worker, clock, second_end + timedelta(hours=1))
    second = await credits_of(api, (await invoices_of(api, sub))[-1]["id"])
    assert (second["total"], second["amountPaid"], second["status"]) == (700, 700, "PAID")
    assert [c["amount"] for c in second["totalPretaxCreditAmounts"]] == [300]
    state = await grant_state(api, created["id"])
    assert state["availableBalance"] == 0
    assert [(t["kind"], t["amount"]) for t in reversed(state["balanceTransactions"]["nodes"])] == [
        ("credits_granted", 800), ("credits_applied", 500), ("credits_applied", 300)]
    listed = await api.ok("query($c: ID!) { customer(id: $c) { creditGrants { nodes { id } } } }", {"c": customer})
    assert listed["customer"]["creditGrants"]["nodes"] == [{"id": created["id"]}]
    assert await event_types(api, created["id"]) == ["billing.credit_grant.created"]


async def test_expired_and_voided_grants_pay_nothing(api, run_worker):
    clock, customer, sub, item = await metered_subscription(api)
    expiring = await grant(api, customer, 1000, expiresAt=(END - timedelta(days=1)).isoformat())
    voided = await grant(api, customer, 1000, category="PAID", priority=0)
    data = await api.ok("mutation($id: ID!) { voidCreditGrant(id: $id) { voidedAt availableBalance } }",
                        {"id": voided["id"]})
    assert data["voidCreditGrant"] == {"voidedAt": START.isoformat(), "availableBalance": 0}
    await advance(api, run_worker, clock, START + timedelta(days=1))
    await report(api, item, 10)
    assert (await grant_state(api, expiring["id"]))["availableBalance"] == 1000
    await advance(api, run_worker, clock, END + timedelta(hours=1))
    invoice = await credits_of(api, (await invoices_of(api, sub))[-1]["id"])
    assert (invoice["total"], invoice["amountPaid"], invoice["totalPretaxCreditAmounts"]) == (50, 50, [])
    assert (await grant_state(api, expiring["id"]))["availableBalance"] == 0
    assert await event_types(api, voided["id"]) == ["billing.credit_grant.created", "billing.credit_grant.updated"]
    error = await api.error("mutation($id: ID!) { voidCreditGrant(id: $id) { id } }", {"id": voided["id"]})
    assert error["extensions"]["code"] == "parameter_invalid"


async def test_grant_input_errors_name_their_parameter(api):
    clock, customer, sub, item = await metered_subscription(api)
    for extra, param in (({"amount": -1}, "amount"), ({"priority": 200}, "priority"),
                         ({"expiresAt": START.isoformat()}, "expiresAt"), ({"customer": "cus_nope"}, "customer")):
        error = await api.error(CREATE, {"input": {"customer": customer, "amount": 100, "currency": "usd",
                                                   "category": "PAID", **extra}})
        assert error["extensions"]["param"] == param, error
    listed = await api.ok("query($c: ID!) { customer(id: $c) { creditGrants { nodes { id } } } }", {"c": customer})
    assert listed["customer"]["creditGrants"]["nodes"] == []


async def test_a_customer_session_reads_its_credits_and_usage(api, run_worker):
    clock, customer, sub, item = await metered_subscription(api)
    created = await grant(api, customer, 100)
    await advance(api, run_worker, clock, START + timedelta(days=1))
    await report(api, item, 4)
    session = await api.ok("mutation($c: ID!) { createCustomerSession(customer: $c) { clientSecret } }",
                           {"c": customer})
    secret = session["createCustomerSession"]["clientSecret"]
    query = """query($c: ID!, $s: ID!) {
      customer(id: $c) { creditGrants { nodes { id availableBalance category } } }
      subscription(id: $s) { items { nodes { usageRecordSummaries { nodes { totalUsage } } } }
        upcomingInvoice { total totalPretaxCreditAmounts { amount creditGrant { id } } } } }"""
    as_key = await api.ok(query, {"c": customer, "s": sub})
    as_session = await api.ok(query, {"c": customer, "s": sub}, secret=secret)
    assert as_session == as_key
    assert as_session["customer"]["creditGrants"]["nodes"] == [
        {"id": created["id"], "availableBalance": 100, "category": "PROMOTIONAL"}]
    assert as_session["subscription"]["upcomingInvoice"] == {
        "total": 0, "totalPretaxCreditAmounts": [{"amount": 20, "creditGrant": {"id": created["id"]}}]}
    error = await api.error(f"query($id: ID!) {{ node(id: $id) {{ ... on CreditGrant {{ {GRANT_FIELDS} }} }} }}",
                            {"id": created["id"]}, secret=secret)
    assert error["extensions"]["code"] == "forbidden"  # the ledger stays with secret keys
