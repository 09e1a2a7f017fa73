"""Events through the API: every change records an Event with Stripe's type name and Stripe's JSON of
the object (plus previous_attributes on updates); lists, filters, and node(id) for every prefix."""
import asyncio

EVENTS = "query($type: String, $types: [String!]) { events(first: 100, type: $type, types: $types) { nodes { %s } } }"


async def events(api, fields: str = "id type created data", **filters) -> list[dict]:
    return (await api.ok(EVENTS.replace("%s", fields), filters))["events"]["nodes"]


async def one(api, type: str) -> dict:
    found = await events(api, type=type)
    assert len(found) == 1, (type, found)
    return found[0]["data"]


async def test_product_and_price_events(api):
    prod = (await api.ok('mutation { createProduct(input: {name: "Pro", description: "d", metadata: {a: "1"}}) '
                         "{ id } }"))["createProduct"]["id"]
    created = await one(api, "product.created")
    obj = created["object"]
    assert (obj["id"], obj["object"], obj["name"], obj["description"], obj["metadata"], obj["active"]) == (
        prod, "product", "Pro", "d", {"a": "1"}, True)
    assert isinstance(obj["created"], int) and isinstance(obj["updated"], int) and obj["livemode"] is False
    assert "previous_attributes" not in created

    await api.ok('mutation($id: ID!) { updateProduct(id: $id, input: {name: "Pro 2", description: null}) { id } }',
                 {"id": prod})
    updated = await one(api, "product.updated")
    assert (updated["object"]["name"], updated["object"]["description"]) == ("Pro 2", None)
    previous = dict(updated["previous_attributes"])
    previous.pop("updated", None)  # moves too when the update falls in a later second
    assert previous == {"name": "Pro", "description": "d"}

    price = (await api.ok("""mutation($p: ID!) { createPrice(input: {product: $p, currency: "EUR", unitAmount: 1999,
        recurring: {interval: MONTH, intervalCount: 3}, lookupKey: "quarterly", metadata: {k: "v"}}) { id } }""",
                          {"p": prod}))["createPrice"]["id"]
    obj = (await one(api, "price.created"))["object"]
    assert (obj["id"], obj["object"], obj["product"], obj["currency"], obj["unit_amount"]) == (
        price, "price", prod, "eur", 1999)
    assert (obj["unit_amount_decimal"], obj["type"], obj["billing_scheme"], obj["lookup_key"]) == (
        "1999", "recurring", "per_unit", "quarterly")
    assert obj["recurring"] == {"interval": "month", "interval_count": 3, "usage_type": "licensed",
                                "aggregate_usage": None, "meter": None}
    assert isinstance(obj["created"], int) and obj["metadata"] == {"k": "v"}

    await api.ok('mutation($id: ID!) { updatePrice(id: $id, input: {nickname: "Q", metadata: {k: ""}}) { id } }',
                 {"id": price})
    updated = await one(api, "price.updated")
    assert updated["object"]["nickname"] == "Q" and updated["object"]["metadata"] == {}
    assert updated["previous_attributes"] == {"nickname": None, "metadata": {"k": "v"}}

    empty = (await api.ok('mutation { createProduct(input: {name: "Empty"}) { id } }'))["createProduct"]["id"]
    await api.ok("mutation($id: ID!) { deleteProduct(id: $id) { id } }", {"id": empty})
    deleted = (await one(api, "product.deleted"))["object"]
    assert (deleted["id"], deleted["deleted"]) == (empty, True)


async def test_tiered_price_event_json(api):
    prod = (await api.ok('mutation { createProduct(input: {name: "Pro"}) { id } }'))["createProduct"]["id"]
    await api.ok("""mutation($p: ID!) { createPrice(input: {product: $p, currency: "usd", billingScheme: TIERED,
        tiersMode: GRADUATED, tiers: [{upTo: 5, unitAmountDecimal: "1.5"}, {flatAmount: 100}]}) { id } }""",
                 {"p": prod})
    obj = (await one(api, "price.created"))["object"]
    assert (obj["billing_scheme"], obj["tiers_mode"], obj["unit_amount"], obj["unit_amount_decimal"]) == (
        "tiered", "graduated", None, None)
    assert obj["tiers"] == [
        {"up_to": 5, "unit_amount": None, "unit_amount_decimal": "1.5", "flat_amount": None,
         "flat_amount_decimal": None},
        {"up_to": None, "unit_amount": None, "unit_amount_decimal": None, "flat_amount": 100,
         "flat_amount_decimal": None},
    ]


async def test_customer_coupon_feature_and_clock_events(api):
    await api.ok('mutation { createCoupon(input: {id: "HALF", duration: ONCE, percentOff: "50"}) { id } }')
    cus = (await api.ok('mutation { createCustomer(input: {email: "a@example.com", coupon: "HALF", '
                        'paymentMethod: "pm_card_visa"}) { id } }'))["createCustomer"]["id"]
    await api.ok('mutation($id: ID!) { updateCustomer(id: $id, input: {name: "Ada", metadata: {x: "y"}}) { id } }',
                 {"id": cus})
    await api.ok('mutation { updateCoupon(id: "HALF", input: {name: "Half off"}) { id } }')
    await api.ok('mutation { deleteCoupon(id: "HALF") { id } }')
    await api.ok('mutation { createFeature(input: {name: "SSO", lookupKey: "sso"}) { id } }')
    clock = (await api.ok('mutation { createTestClock(input: {frozenTime: "2032-01-01T00:00:00Z"}) { id } }'))
    await api.ok("mutation($id: ID!) { deleteTestClock(id: $id) { id } }", {"id": clock["createTestClock"]["id"]})
    await api.ok("mutation($id: ID!) { deleteCustomer(id: $id) { id } }", {"id": cus})

    customer = (await one(api, "customer.created"))["object"]
    assert (customer["id"], customer["object"], customer["email"], customer["balance"]) == (
        cus, "customer", "a@example.com", 0)
    assert isinstance(customer["created"], int) and customer["invoice_settings"]["default_payment_method"]
    updated = await one(api, "customer.updated")
    assert updated["previous_attributes"] == {"name": None, "metadata": {}}
    assert (updated["object"]["name"], updated["object"]["metadata"]) == ("Ada", {"x": "y"})
    assert (await one(api, "customer.deleted"))["object"]["deleted"] is True

    coupon = (await one(api, "coupon.created"))["object"]
    assert (coupon["id"], coupon["object"], coupon["percent_off"], coupon["duration"]) == ("HALF", "coupon", 50,
                                                                                           "once")
    assert (await one(api, "coupon.updated"))["previous_attributes"] == {"name": None}
    assert (await one(api, "coupon.deleted"))["object"]["deleted"] is True
    discount = (await one(api, "customer.discount.created"))["object"]
    assert (discount["object"], discount["coupon"], discount["customer"]) == ("discount", "HALF", cus)
    attached = (await one(api, "payment_method.attached"))["object"]
    assert (attached["object"], attached["customer"], attached["card"]["last4"]) == ("payment_method", cus, "4242")
    feature = (await one(api, "entitlements.feature.created"))["object"]
    assert (feature["object"], feature["lookup_key"], feature["name"]) == ("entitlements.feature", "sso", "SSO")
    assert (await one(api, "test_helpers.test_clock.created"))["object"]["frozen_time"] == 1956528000
    assert (await one(api, "test_helpers.test_clock.deleted"))["object"]["deleted"] is True

    family = {e["type"] for e in await events(api, type="customer.*")}
    assert family == {"customer.created", "customer.updated", "customer.deleted", "customer.discount.created",
                      "customer.discount.deleted"}  # the deleted customer's discount ended with it
    chosen = {e["type"] for e in await events(api, types=["coupon.created", "coupon.deleted", "nothing.happened"])}
    assert chosen == {"coupon.created", "coupon.deleted"}
    assert await events(api, type="customer") == []


async def test_list_order_and_single_event(api):
    await api.ok('mutation { createProduct(input: {name: "First"}) { id } }')
    await asyncio.sleep(1.05)  # created is to the second: make the order unambiguous
    await api.ok('mutation { createFeature(input: {name: "Second", lookupKey: "second"}) { id } }')
    listed = await events(api, "id type created")
    assert [e["type"] for e in listed] == ["entitlements.feature.created", "product.created"]
    page = (await api.ok("{ events(first: 1) { nodes { id } pageInfo { hasNextPage endCursor } } }"))["events"]
    assert page["nodes"] == [{"id": listed[0]["id"]}] and page["pageInfo"]["hasNextPage"]
    rest = await api.ok("query($after: String) { events(after: $after) { nodes { id } pageInfo { hasNextPage } } }",
                        {"after": page["pageInfo"]["endCursor"]})
    assert rest["events"] == {"nodes": [{"id": listed[1]["id"]}], "pageInfo": {"hasNextPage": False}}

    read = await api.ok("query($id: ID!) { event(id: $id) { id type created pendingWebhooks data } }",
                        {"id": listed[1]["id"]})
    assert read["event"]["id"].startswith("evt_") and read["event"]["type"] == "product.created"
    assert read["event"]["created"] == listed[1]["created"] and read["event"]["pendingWebhooks"] == 0
    assert read["event"]["data"]["object"]["name"] == "First"
    assert (await api.ok('{ event(id: "evt_nope") { id } }'))["event"] is None


async def test_event_filter_errors(api):
    for variables, param in (({"type": "product.created", "types": ["product.created"]}, "types"),
                             ({"types": [f"type.{i}" for i in range(21)]}, "types"),
                             ({"first": 101}, "first")):
        query = ("query($type: String, $types: [String!], $first: Int) "
                 "{ events(type: $type, types: $types, first: $first) { nodes { id } } }")
        error = await api.error(query, variables)
        assert error["extensions"] == {"code": "parameter_invalid", "type": "invalid_request_error",
                                       "param": param}, error


async def test_a_failed_mutation_records_no_event(api):
    prod = (await api.ok('mutation { createProduct(input: {name: "Pro"}) { id } }'))["createProduct"]["id"]
    before = await events(api, "id")
    failures = [
        ('mutation($p: ID!) { createPrice(input: {product: $p, currency: "usd"}) { id } }', {"p": prod}),
        ('mutation($p: ID!) { updateProduct(id: $p, input: {metadata: {a: 1}}) { id } }', {"p": prod}),
        ('mutation { createCustomer(input: {email: "x@example.com", paymentMethod: "pm_card_chargeDeclined"}) '
         "{ id } }", {}),
        ('mutation { createCustomer(input: {email: "x@example.com", coupon: "nope"}) { id } }', {}),
        ('mutation { createCoupon(input: {duration: ONCE}) { id } }', {}),
    ]
    for query, variables in failures:
        await api.error(query, variables)
    assert await events(api, "id") == before
    assert (await api.ok('{ customers { nodes { id } } }'))["customers"]["nodes"] == []


async def test_node_returns_the_type_of_each_prefix(api):
    prod = (await api.ok('mutation { createProduct(input: {name: "Pro"}) { id } }'))["createProduct"]["id"]
    price = (await api.ok('mutation($p: ID!) { createPrice(input: {product: $p, currency: "usd", unitAmount: 5}) '
                          "{ id } }", {"p": prod}))["createPrice"]["id"]
    feature = (await api.ok('mutation { createFeature(input: {name: "SSO", lookupKey: "sso"}) { id } }'))
    feature = feature["createFeature"]["id"]
    attachment = (await api.ok("mutation($p: ID!, $f: ID!) { createProductFeature(product: $p, entitlementFeature: $f)"
                               " { id } }", {"p": prod, "f": feature}))["createProductFeature"]["id"]
    coupon = (await api.ok('mutation { createCoupon(input: {id: "cus_lookalike", duration: ONCE, percentOff: "5"}) '
                           "{ id } }"))["createCoupon"]["id"]
    generated = (await api.ok('mutation { createCoupon(input: {duration: ONCE, percentOff: "5"}) { id } }'))
    generated = generated["createCoupon"]["id"]
    custom_product = (await api.ok('mutation { createProduct(input: {name: "Gold", id: "gold"}) { id } }'))
    custom_product = custom_product["createProduct"]["id"]
    cus = (await api.ok('mutation { createCustomer(input: {paymentMethod: "pm_card_visa"}) '
                        "{ id invoiceSettings { defaultPaymentMethod { id } } } }"))["createCustomer"]
    pm = cus["invoiceSettings"]["defaultPaymentMethod"]["id"]
    clock = (await api.ok('mutation { createTestClock(input: {frozenTime: "2032-01-01T00:00:00Z"}) { id } }'))
    clock = clock["createTestClock"]["id"]
    event = (await events(api, "id", type="product.created"))[0]["id"]

    query = """query($id: ID!) { node(id: $id) { __typename id
        ... on Product { name } ... on Price { unitAmount } ... on Feature { lookupKey }
        ... on ProductFeature { entitlementFeature { id } } ... on Customer { email }
        ... on PaymentMethod { card { last4 } } ... on Coupon { percentOff } ... on TestClock { frozenTime }
        ... on Event { type } } }"""
    expected = {
        prod: ("Product", "name", "Pro"), custom_product: ("Product", "name", "Gold"),
        price: ("Price", "unitAmount", 5), feature: ("Feature", "lookupKey", "sso"),
        attachment: ("ProductFeature", "entitlementFeature", {"id": feature}), cus["id"]: ("Customer", "email", None),
        pm: ("PaymentMethod", "card", {"last4": "4242"}), coupon: ("Coupon", "percentOff", "5"),
        generated: ("Coupon", "percentOff", "5"), clock: ("TestClock", "frozenTime", "2032-01-01T00:00:00+00:00"),
        event: ("Event", "type", "product.created"),
    }
    for id, (typename, field, value) in expected.items():
        node = (await api.ok(query, {"id": id}))["node"]
        assert (node["__typename"], node["id"], node[field]) == (typename, id, value), node
    for missing in ("prod_nope", "price_nope", "cus_nope", "evt_nope", "nope", "", "clock_nope"):
        assert (await api.ok(query, {"id": missing}))["node"] is None


async def test_a_no_op_update_records_nothing(api):
    prod = (await api.ok('mutation { createProduct(input: {name: "Pro", metadata: {a: "1"}}) { id updated } }'))
    await asyncio.sleep(1.05)  # `updated` would move to a later second if the no-op touched it
    same = await api.ok('mutation($id: ID!) { updateProduct(id: $id, input: {name: "Pro", metadata: {a: "1"}}) '
                        "{ updated } }", {"id": prod["createProduct"]["id"]})
    assert same["updateProduct"]["updated"] == prod["createProduct"]["updated"]
    assert [e["type"] for e in await events(api, "type")] == ["product.created"]


async def test_events_of_one_second_list_in_the_order_they_happened(api):
    names = [f"P{i}" for i in range(8)]
    for name in names:
        await api.ok("mutation($n: String!) { createProduct(input: {name: $n}) { id } }", {"n": name})
    data = await api.ok('query { events(first: 8, type: "product.created") { nodes { data } } }')
    assert [n["data"]["object"]["name"] for n in data["events"]["nodes"]] == list(reversed(names))
