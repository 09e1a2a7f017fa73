"""Customers through the API: create (with test cards, clocks, balances), update, soft delete,
balance transactions, and attaching and detaching payment methods."""
CUSTOMER = """id deleted email name description phone metadata balance currency invoicePrefix created
    testClock { id } invoiceSettings { defaultPaymentMethod { id card { brand last4 } } }"""
CREATE = "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { " + CUSTOMER + " } }"
UPDATE = ("mutation($id: ID!, $input: UpdateCustomerInput!) { updateCustomer(id: $id, input: $input) { "
          + CUSTOMER + " } }")
READ = "query($id: ID!) { customer(id: $id) { " + CUSTOMER + " } }"
BALANCE = """mutation($input: CustomerBalanceTransactionInput!) { createCustomerBalanceTransaction(input: $input) {
    id amount currency description endingBalance type customer { id balance currency } } }"""
ATTACH = """mutation($customer: ID!, $pm: ID!) { attachPaymentMethod(customer: $customer, paymentMethod: $pm) {
    id type card { brand last4 expMonth expYear } customer { id } } }"""
DETACH = "mutation($id: ID!) { detachPaymentMethod(id: $id) { id customer { id } } }"
COUNTS = """{ customers(first: 100) { nodes { id paymentMethods(first: 100) { nodes { id } }
    balanceTransactions(first: 100) { nodes { id } } } } events(first: 100) { nodes { id } } }"""


async def counts(api) -> dict:
    data = await api.ok(COUNTS)
    customers = data["customers"]["nodes"]
    return {"customers": len(customers), "events": len(data["events"]["nodes"]),
            "payment_methods": sum(len(c["paymentMethods"]["nodes"]) for c in customers),
            "transactions": sum(len(c["balanceTransactions"]["nodes"]) for c in customers)}


async def refused(api, query: str, variables: dict, code: str, param: str | None,
                  type: str = "invalid_request_error") -> dict:
    before = await counts(api)
    error = await api.error(query, variables)
    assert (error["extensions"]["code"], error["extensions"]["type"], error["extensions"]["param"]) == (
        code, type, param), error
    assert await counts(api) == before
    return error


async def customer(api, **fields) -> dict:
    return (await api.ok(CREATE, {"input": fields}))["createCustomer"]


async def test_create_and_read(api):
    created = await customer(api, email="ada@example.com", name="Ada", phone="+44 20 7946 0000",
                             description="first", metadata={"plan": "gold"}, invoicePrefix="ADA01")
    assert created["id"].startswith("cus_")
    assert (created["email"], created["name"], created["phone"], created["description"]) == (
        "ada@example.com", "Ada", "+44 20 7946 0000", "first")
    assert (created["metadata"], created["invoicePrefix"], created["balance"], created["deleted"]) == (
        {"plan": "gold"}, "ADA01", 0, False)
    assert created["testClock"] is None and created["invoiceSettings"] == {"defaultPaymentMethod": None}
    assert (await api.ok(READ, {"id": created["id"]}))["customer"] == created
    bare = await customer(api)
    assert len(bare["invoicePrefix"]) == 8 and bare["invoicePrefix"].isupper()
    by_email = await api.ok('{ customers(email: "ada@example.com") { nodes { id } } }')
    assert by_email["customers"]["nodes"] == [{"id": created["id"]}]


async def test_unknown_ids(api):
    data = await api.ok('{ customer(id: "cus_nope") { id } node(id: "pm_nope") { id } }')
    assert data == {"customer": None, "node": None}
    await refused(api, UPDATE, {"id": "cus_nope", "input": {"name": "x"}}, "resource_missing", "id")
    await refused(api, UPDATE, {"id": "cus_" + "x" * 100, "input": {"name": "x"}}, "resource_missing", "id")
    await refused(api, 'mutation { deleteCustomer(id: "cus_nope") { id } }', {}, "resource_missing", "id")
    await refused(api, ATTACH, {"customer": "cus_nope", "pm": "pm_card_visa"}, "resource_missing", "customer")
    await refused(api, DETACH, {"id": "pm_nope"}, "resource_missing", "id")
    await refused(api, BALANCE, {"input": {"customer": "cus_nope", "amount": 1, "currency": "usd"}},
                  "resource_missing", "customer")
    await refused(api, CREATE, {"input": {"testClock": "clock_nope"}}, "resource_missing", "testClock")
    await refused(api, CREATE, {"input": {"paymentMethod": "pm_nope"}}, "resource_missing", "paymentMethod")
    await refused(api, CREATE, {"input": {"coupon": "nope"}}, "resource_missing", "coupon")
    cus = await customer(api)
    await refused(api, ATTACH, {"customer": cus["id"], "pm": "pm_nope"}, "resource_missing", "paymentMethod")
    await refused(api, UPDATE, {"id": cus["id"], "input": {"defaultPaymentMethod": "pm_nope"}},
                  "resource_missing", "defaultPaymentMethod")


async def test_invoice_prefix_rules(api):
    for prefix in ("AB", "abc", "ABCDEFGHIJKLM", "AB-C", ""):
        await refused(api, CREATE, {"input": {"invoicePrefix": prefix}}, "parameter_invalid", "invoicePrefix")
    assert (await customer(api, invoicePrefix="ABCDEFGHIJKL"))["invoicePrefix"] == "ABCDEFGHIJKL"
    assert (await customer(api, invoicePrefix="A1B"))["invoicePrefix"] == "A1B"
    await refused(api, CREATE, {"input": {"invoicePrefix": "A1B", "email": "x@example.com"}},
                  "parameter_invalid", "invoicePrefix")


async def test_contact_field_limits(api):
    await refused(api, CREATE, {"input": {"email": "a" * 513}}, "parameter_invalid", "email")
    await refused(api, CREATE, {"input": {"phone": "1" * 33}}, "parameter_invalid", "phone")
    await refused(api, CREATE, {"input": {"name": "n" * 257}}, "parameter_invalid", "name")
    await refused(api, CREATE, {"input": {"name": "nul\x00"}}, "parameter_invalid", "name")
    error = await api.error("query($email: String) { customers(email: $email) { nodes { id } } }", {"email": "e" * 600})
    assert error["extensions"]["type"] == "invalid_request_error", error


async def test_create_with_a_test_card_makes_it_the_default(api):
    created = await customer(api, email="card@example.com", paymentMethod="pm_card_visa")
    default = created["invoiceSettings"]["defaultPaymentMethod"]
    assert default["id"].startswith("pm_") and default["id"] != "pm_card_visa"
    assert default["card"] == {"brand": "visa", "last4": "4242"}
    listed = await api.ok("query($id: ID!) { customer(id: $id) { paymentMethods { nodes { id customer { id } } } } }",
                          {"id": created["id"]})
    assert listed["customer"]["paymentMethods"]["nodes"] == [{"id": default["id"], "customer": {"id": created["id"]}}]
    events = await api.ok('{ events(type: "customer.created") { nodes { data } } all: events { nodes { type } } }')
    obj = events["events"]["nodes"][0]["data"]["object"]
    assert obj["invoice_settings"] == {"default_payment_method": default["id"]}
    assert sorted(n["type"] for n in events["all"]["nodes"]) == ["customer.created", "payment_method.attached"]


async def test_a_declined_card_creates_nothing(api):
    declined = {"email": "no@example.com", "paymentMethod": "pm_card_chargeDeclined"}
    error = await refused(api, CREATE, {"input": declined}, "card_declined", "paymentMethod", type="card_error")
    assert error["extensions"]["declineCode"] == "generic_decline"
    assert (await api.ok('{ customers(email: "no@example.com") { nodes { id } } }'))["customers"]["nodes"] == []


async def test_update(api):
    created = await customer(api, email="old@example.com", name="Old", phone="123", description="d")
    updated = (await api.ok(UPDATE, {"id": created["id"], "input": {"email": "new@example.com", "phone": None}}))
    updated = updated["updateCustomer"]
    assert (updated["email"], updated["phone"], updated["name"], updated["description"]) == (
        "new@example.com", None, "Old", "d")
    assert (await api.ok(READ, {"id": created["id"]}))["customer"] == updated
    events = (await api.ok('{ events(type: "customer.updated") { nodes { data } } }'))["events"]["nodes"]
    assert len(events) == 1
    assert events[0]["data"]["previous_attributes"] == {"email": "old@example.com", "phone": "123"}
    assert events[0]["data"]["object"]["email"] == "new@example.com"


async def test_delete_is_soft(api):
    keep, gone = await customer(api, email="keep@example.com"), await customer(api, email="gone@example.com")
    deleted = await api.ok("mutation($id: ID!) { deleteCustomer(id: $id) { id deleted } }", {"id": gone["id"]})
    assert deleted["deleteCustomer"] == {"id": gone["id"], "deleted": True}
    read = (await api.ok(READ, {"id": gone["id"]}))["customer"]
    assert read["deleted"] is True and read["email"] == "gone@example.com"
    listed = await api.ok("{ customers { nodes { id } } }")
    assert listed["customers"]["nodes"] == [{"id": keep["id"]}]
    await refused(api, UPDATE, {"id": gone["id"], "input": {"name": "x"}}, "resource_missing", "id")
    await refused(api, "mutation($id: ID!) { deleteCustomer(id: $id) { id } }", {"id": gone["id"]},
                  "resource_missing", "id")
    await refused(api, ATTACH, {"customer": gone["id"], "pm": "pm_card_visa"}, "resource_missing", "customer")
    events = (await api.ok('{ events(type: "customer.deleted") { nodes { data } } }'))["events"]["nodes"]
    assert [e["data"]["object"]["id"] for e in events] == [gone["id"]]
    assert events[0]["data"]["object"]["deleted"] is True


async def test_balance_transactions(api):
    cus = await customer(api)
    first = (await api.ok(BALANCE, {"input": {"customer": cus["id"], "amount": 500, "currency": "USD",
                                              "description": "goodwill"}}))["createCustomerBalanceTransaction"]
    assert first["id"].startswith("cbtxn_")
    assert (first["amount"], first["currency"], first["endingBalance"], first["type"], first["description"]) == (
        500, "usd", 500, "adjustment", "goodwill")
    assert first["customer"] == {"id": cus["id"], "balance": 500, "currency": "usd"}
    credit = (await api.ok(BALANCE, {"input": {"customer": cus["id"], "amount": -800, "currency": "usd"}}))
    assert credit["createCustomerBalanceTransaction"]["endingBalance"] == -300
    await refused(api, BALANCE, {"input": {"customer": cus["id"], "amount": 1, "currency": "eur"}},
                  "parameter_invalid", "currency")
    await refused(api, BALANCE, {"input": {"customer": cus["id"], "amount": 0, "currency": "usd"}},
                  "parameter_invalid", "amount")
    await refused(api, BALANCE, {"input": {"customer": cus["id"], "amount": 1, "currency": "XYZ"}},
                  "parameter_invalid", "currency")
    data = await api.ok("""query($id: ID!) { customer(id: $id) { balance currency
        balanceTransactions { nodes { amount endingBalance } } } }""", {"id": cus["id"]})
    transactions = data["customer"]["balanceTransactions"]["nodes"]
    assert data["customer"]["balance"] == -300 == sum(t["amount"] for t in transactions)
    assert {t["endingBalance"] for t in transactions} == {500, -300}
    events = (await api.ok('{ events(type: "customer.updated") { nodes { data } } }'))["events"]["nodes"]
    assert {e["data"]["previous_attributes"]["balance"] for e in events} == {0, 500}


async def test_initial_balance(api):
    await refused(api, CREATE, {"input": {"balance": 1_000_000_000_000}}, "parameter_invalid", "balance")
    full = await customer(api, balance=999_999_999_999)
    await refused(api, BALANCE, {"input": {"customer": full["id"], "amount": 1, "currency": "usd"}},
                  "parameter_invalid", "amount")
    cus = await customer(api, balance=-250)
    assert cus["balance"] == -250
    query = "query($id: ID!) { customer(id: $id) { balanceTransactions { nodes { amount endingBalance } } } }"
    data = await api.ok(query, {"id": cus["id"]})
    assert data["customer"]["balanceTransactions"]["nodes"] == [{"amount": -250, "endingBalance": -250}]


async def test_attach_and_detach_payment_methods(api):
    cus = await customer(api)
    visa = (await api.ok(ATTACH, {"customer": cus["id"], "pm": "pm_card_visa"}))["attachPaymentMethod"]
    assert visa["type"] == "card" and visa["customer"] == {"id": cus["id"]}
    assert (visa["card"]["brand"], visa["card"]["last4"], visa["card"]["expMonth"]) == ("visa", "4242", 12)
    master = (await api.ok(ATTACH, {"customer": cus["id"], "pm": "pm_card_mastercard"}))["attachPaymentMethod"]
    await refused(api, ATTACH, {"customer": cus["id"], "pm": "pm_card_chargeDeclined"}, "card_declined",
                  "paymentMethod", type="card_error")
    # An attached payment method cannot be attached again, to this customer or another.
    other = await customer(api)
    await refused(api, ATTACH, {"customer": other["id"], "pm": visa["id"]}, "parameter_invalid", "paymentMethod")
    await refused(api, UPDATE, {"id": other["id"], "input": {"defaultPaymentMethod": visa["id"]}},
                  "parameter_invalid", "defaultPaymentMethod")

    made_default = await api.ok(UPDATE, {"id": cus["id"], "input": {"defaultPaymentMethod": master["id"]}})
    assert made_default["updateCustomer"]["invoiceSettings"]["defaultPaymentMethod"]["id"] == master["id"]
    listed = await api.ok("query($id: ID!) { customer(id: $id) { paymentMethods { nodes { id } } } }",
                          {"id": cus["id"]})
    assert {n["id"] for n in listed["customer"]["paymentMethods"]["nodes"]} == {visa["id"], master["id"]}

    detached = (await api.ok(DETACH, {"id": master["id"]}))["detachPaymentMethod"]
    assert detached == {"id": master["id"], "customer": None}
    read = (await api.ok(READ, {"id": cus["id"]}))["customer"]
    assert read["invoiceSettings"]["defaultPaymentMethod"] is None  # the detached default is unset
    listed = await api.ok("query($id: ID!) { customer(id: $id) { paymentMethods { nodes { id } } } }",
                          {"id": cus["id"]})
    assert listed["customer"]["paymentMethods"]["nodes"] == [{"id": visa["id"]}]
    await refused(api, DETACH, {"id": master["id"]}, "parameter_invalid", "id")
    # Detaching is permanent, as in Stripe.
    await refused(api, ATTACH, {"customer": cus["id"], "pm": master["id"]}, "parameter_invalid", "paymentMethod")
    await refused(api, UPDATE, {"id": cus["id"], "input": {"defaultPaymentMethod": master["id"]}},
                  "parameter_invalid", "defaultPaymentMethod")
    types = (await api.ok("{ events(types: [\"payment_method.attached\", \"payment_method.detached\"]) "
                          "{ nodes { type data } } }"))["events"]["nodes"]
    assert sorted(e["type"] for e in types) == ["payment_method.attached"] * 2 + ["payment_method.detached"]
    detached_event = next(e for e in types if e["type"] == "payment_method.detached")
    assert detached_event["data"]["object"]["id"] == master["id"]
    assert detached_event["data"]["object"]["customer"] is None


async def test_test_clock_customer(api):
    clock = (await api.ok('mutation { createTestClock(input: {frozenTime: "2030-01-15T10:00:00Z"}) { id } }'))
    clock_id = clock["createTestClock"]["id"]
    cus = await customer(api, testClock=clock_id)
    assert cus["testClock"] == {"id": clock_id}
    assert cus["created"] == "2030-01-15T10:00:00+00:00"
