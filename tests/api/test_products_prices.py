"""Products and prices through the API: Stripe's creation rules, immutable amounts, lookup keys,
deletion, and cursor pagination. Every refused request leaves the catalog and the events unchanged."""
import asyncio

import pytest

PRODUCT = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id name active deleted } }"
PRICE_FIELDS = """id active currency type billingScheme unitAmount unitAmountDecimal tiersMode lookupKey nickname
    metadata recurring { interval intervalCount usageType aggregateUsage }
    tiers { upTo unitAmount unitAmountDecimal flatAmount flatAmountDecimal }
    transformQuantity { divideBy round } product { id }"""
CREATE_PRICE = "mutation($input: CreatePriceInput!) { createPrice(input: $input) { " + PRICE_FIELDS + " } }"
UPDATE_PRICE = ("mutation($id: ID!, $input: UpdatePriceInput!) { updatePrice(id: $id, input: $input) { "
                + PRICE_FIELDS + " } }")
COUNTS = """{ prices(first: 100) { nodes { id } } products(first: 100) { nodes { id } }
    events(first: 100) { nodes { id } } }"""


async def counts(api) -> dict:
    data = await api.ok(COUNTS)
    return {key: len(value["nodes"]) for key, value in data.items()}


async def refused(api, query: str, variables: dict, code: str, param: str | None,
                  type: str = "invalid_request_error") -> dict:
    """The request fails with these Stripe error fields and writes nothing."""
    before = await counts(api)
    error = await api.error(query, variables)
    assert error["extensions"]["code"] == code, error
    assert error["extensions"]["type"] == type, error
    assert error["extensions"]["param"] == param, error
    assert await counts(api) == before
    return error


async def product(api, name: str = "Pro") -> str:
    return (await api.ok(PRODUCT, {"input": {"name": name}}))["createProduct"]["id"]


async def price(api, **fields) -> dict:
    return (await api.ok(CREATE_PRICE, {"input": fields}))["createPrice"]


# -- unknown ids -------------------------------------------------------------------------------

async def test_unknown_product_and_price_ids(api):
    data = await api.ok('{ product(id: "prod_nope") { id } price(id: "price_nope") { id } }')
    assert data == {"product": None, "price": None}
    long_id = "prod_" + "x" * 1000  # longer than any id: still just missing, not a server error
    data = await api.ok("query($id: ID!) { product(id: $id) { id } price(id: $id) { id } node(id: $id) { id } }",
                        {"id": long_id})
    assert data == {"product": None, "price": None, "node": None}
    await refused(api, "mutation($id: ID!) { deleteProduct(id: $id) { id } }", {"id": long_id},
                  "resource_missing", "id")
    await refused(api, CREATE_PRICE, {"input": {"product": long_id, "currency": "usd", "unitAmount": 1}},
                  "resource_missing", "product")
    await refused(api, 'mutation { updateProduct(id: "prod_nope", input: {name: "x"}) { id } }', {},
                  "resource_missing", "id")
    await refused(api, 'mutation { deleteProduct(id: "prod_nope") { id } }', {}, "resource_missing", "id")
    await refused(api, CREATE_PRICE, {"input": {"product": "prod_nope", "currency": "usd", "unitAmount": 1}},
                  "resource_missing", "product")
    await refused(api, UPDATE_PRICE, {"id": "price_nope", "input": {"nickname": "x"}}, "resource_missing", "id")


# -- unit amounts ------------------------------------------------------------------------------

async def test_price_needs_exactly_one_unit_amount(api):
    prod = await product(api)
    await refused(api, CREATE_PRICE, {"input": {"product": prod, "currency": "usd"}}, "parameter_missing",
                  "unitAmount")
    await refused(api, CREATE_PRICE, {"input": {"product": prod, "currency": "usd", "unitAmount": 5,
                                                "unitAmountDecimal": "5.5"}},
                  "parameter_invalid", "unitAmountDecimal")
    created = await price(api, product=prod, currency="usd", unitAmount=1500)
    assert (created["unitAmount"], created["unitAmountDecimal"], created["type"]) == (1500, "1500", "ONE_TIME")
    assert created["billingScheme"] == "PER_UNIT" and created["product"] == {"id": prod}
    fractional = await price(api, product=prod, currency="usd", unitAmountDecimal="0.5")
    assert (fractional["unitAmount"], fractional["unitAmountDecimal"]) == (None, "0.5")


@pytest.mark.parametrize(("fields", "param"), [
    ({"unitAmount": -1}, "unitAmount"),
    ({"unitAmountDecimal": "-0.01"}, "unitAmountDecimal"),
    ({"unitAmountDecimal": "0.0000000000001"}, "unitAmountDecimal"),  # 13 decimal places
    ({"unitAmount": 1_000_000_000_000}, "unitAmount"),
])
async def test_amounts_are_non_negative_with_at_most_12_places(api, fields, param):
    prod = await product(api)
    await refused(api, CREATE_PRICE, {"input": {"product": prod, "currency": "usd", **fields}},
                  "parameter_invalid", param)


async def test_twelve_decimal_places_and_zero_are_fine(api):
    prod = await product(api)
    tiny = await price(api, product=prod, currency="usd", unitAmountDecimal="0.000000000001")
    assert tiny["unitAmountDecimal"] == "0.000000000001"
    read = await api.ok("query($id: ID!) { price(id: $id) { unitAmountDecimal } }", {"id": tiny["id"]})
    assert read["price"]["unitAmountDecimal"] == "0.000000000001"
    free = await price(api, product=prod, currency="usd", unitAmount=0)
    assert free["unitAmount"] == 0


# -- currency ----------------------------------------------------------------------------------

async def test_currency_is_a_known_iso_code_stored_lowercase(api):
    prod = await product(api)
    assert (await price(api, product=prod, currency="USD", unitAmount=1))["currency"] == "usd"
    assert (await price(api, product=prod, currency="jpy", unitAmount=1))["currency"] == "jpy"
    for code in ("XYZ", "us", "dollars", ""):
        await refused(api, CREATE_PRICE, {"input": {"product": prod, "currency": code, "unitAmount": 1}},
                      "parameter_invalid", "currency")


# -- recurring ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("interval", "longest"), [("DAY", 1095), ("WEEK", 156), ("MONTH", 36), ("YEAR", 3)])
async def test_recurring_interval_is_at_most_three_years(api, interval, longest):
    prod = await product(api)
    ok = await price(api, product=prod, currency="usd", unitAmount=100,
                     recurring={"interval": interval, "intervalCount": longest})
    assert ok["type"] == "RECURRING"
    assert ok["recurring"] == {"interval": interval, "intervalCount": longest, "usageType": "LICENSED",
                               "aggregateUsage": None}
    for count in (longest + 1, 0):
        await refused(api, CREATE_PRICE, {"input": {"product": prod, "currency": "usd", "unitAmount": 100,
                                                    "recurring": {"interval": interval, "intervalCount": count}}},
                      "parameter_invalid", "recurring.intervalCount")


async def test_recurring_and_type_must_agree(api):
    prod = await product(api)
    await refused(api, CREATE_PRICE, {"input": {"product": prod, "currency": "usd", "unitAmount": 1,
                                                "type": "RECURRING"}}, "parameter_missing", "recurring")
    await refused(api, CREATE_PRICE, {"input": {"product": prod, "currency": "usd", "unitAmount": 1,
                                                "type": "ONE_TIME", "recurring": {"interval": "MONTH"}}},
                  "parameter_invalid", "recurring")
    metered = await price(api, product=prod, currency="usd", unitAmount=1,
                          recurring={"interval": "MONTH", "usageType": "METERED"})
    assert metered["recurring"]["intervalCount"] == 1 and metered["recurring"]["aggregateUsage"] == "SUM"


# -- tiers -------------------------------------------------------------------------------------

def tiered(prod: str, tiers: list, mode: str | None = "GRADUATED", **extra) -> dict:
    fields = {"product": prod, "currency": "usd", "billingScheme": "TIERED", "tiers": tiers, **extra}
    if mode is not None:
        fields["tiersMode"] = mode
    return {"input": fields}


async def test_a_valid_tiered_price_reads_back(api):
    prod = await product(api)
    tiers = [{"upTo": 10, "unitAmount": 500}, {"upTo": 100, "unitAmountDecimal": "4.25", "flatAmount": 100},
             {"upTo": None, "flatAmountDecimal": "0.5"}]
    created = (await api.ok(CREATE_PRICE, tiered(prod, tiers, "VOLUME")))["createPrice"]
    assert (created["billingScheme"], created["tiersMode"], created["unitAmount"]) == ("TIERED", "VOLUME", None)
    assert created["tiers"] == [
        {"upTo": 10, "unitAmount": 500, "unitAmountDecimal": "500", "flatAmount": None, "flatAmountDecimal": None},
        {"upTo": 100, "unitAmount": None, "unitAmountDecimal": "4.25", "flatAmount": 100, "flatAmountDecimal": "100"},
        {"upTo": None, "unitAmount": None, "unitAmountDecimal": None, "flatAmount": None,
         "flatAmountDecimal": "0.5"},
    ]


@pytest.mark.parametrize(("tiers", "mode", "code", "param"), [
    ([{"upTo": None, "unitAmount": 1}], None, "parameter_missing", "tiersMode"),
    ([], "GRADUATED", "parameter_missing", "tiers"),
    ([{"upTo": 10, "unitAmount": 1}, {"upTo": 5, "unitAmount": 1}, {"unitAmount": 1}], "GRADUATED",
     "parameter_invalid", "tiers.1.upTo"),
    ([{"upTo": 10, "unitAmount": 1}, {"upTo": 10, "unitAmount": 1}, {"unitAmount": 1}], "GRADUATED",
     "parameter_invalid", "tiers.1.upTo"),
    ([{"upTo": None, "unitAmount": 1}, {"upTo": None, "unitAmount": 1}], "VOLUME", "parameter_invalid",
     "tiers.0.upTo"),
    ([{"upTo": 10, "unitAmount": 1}, {"upTo": 20, "unitAmount": 1}], "VOLUME", "parameter_invalid", "tiers.1.upTo"),
    ([{"upTo": 0, "unitAmount": 1}, {"unitAmount": 1}], "VOLUME", "parameter_invalid", "tiers.0.upTo"),
    ([{"upTo": 10, "unitAmount": 1}, {"upTo": None}], "GRADUATED", "parameter_invalid", "tiers.1"),
    ([{"upTo": 10, "unitAmount": 1, "unitAmountDecimal": "1"}, {"unitAmount": 1}], "GRADUATED",
     "parameter_invalid", "tiers.0.unitAmountDecimal"),
    ([{"upTo": 10, "flatAmount": -1}, {"unitAmount": 1}], "GRADUATED", "parameter_invalid", "tiers.0.flatAmount"),
    ([{"upTo": 10, "unitAmount": 1}, {"unitAmountDecimal": "0.1234567890123"}], "GRADUATED", "parameter_invalid",
     "tiers.1.unitAmountDecimal"),
])
async def test_tier_rules(api, tiers, mode, code, param):
    prod = await product(api)
    await refused(api, CREATE_PRICE, tiered(prod, tiers, mode), code, param)


async def test_tiers_need_the_tiered_scheme_and_no_unit_amount(api):
    prod = await product(api)
    tiers = [{"upTo": None, "unitAmount": 1}]
    await refused(api, CREATE_PRICE, {"input": {"product": prod, "currency": "usd", "unitAmount": 1, "tiers": tiers,
                                                "tiersMode": "VOLUME"}}, "parameter_invalid", "tiers")
    await refused(api, CREATE_PRICE, tiered(prod, tiers, unitAmount=5), "parameter_invalid", "unitAmount")
    await refused(api, CREATE_PRICE, tiered(prod, None), "parameter_missing", "tiers")


async def test_transform_quantity_cannot_be_combined_with_tiers(api):
    prod = await product(api)
    transform = {"divideBy": 10, "round": "UP"}
    await refused(api, CREATE_PRICE, tiered(prod, [{"upTo": None, "unitAmount": 1}], transformQuantity=transform),
                  "parameter_invalid", "transformQuantity")
    await refused(api, CREATE_PRICE, {"input": {"product": prod, "currency": "usd", "unitAmount": 1,
                                                "transformQuantity": {"divideBy": 0, "round": "UP"}}},
                  "parameter_invalid", "transformQuantity.divideBy")
    per_unit = await price(api, product=prod, currency="usd", unitAmount=1000, transformQuantity=transform)
    assert per_unit["transformQuantity"] == {"divideBy": 10, "round": "UP"}


# -- updates: amounts are immutable --------------------------------------------------------------

async def test_amounts_cannot_change_after_creation(api):
    prod = await product(api)
    created = await price(api, product=prod, currency="usd", unitAmount=1000)
    for field, value in (("unitAmount", 5), ("currency", "eur"), ("unitAmountDecimal", "1"), ("tiers", [])):
        before = await counts(api)
        error = await api.error(UPDATE_PRICE, {"id": created["id"], "input": {field: value}})
        assert error["extensions"]["type"] == "invalid_request_error", error
        assert field in error["message"]
        assert await counts(api) == before
    inline = await api.error('mutation($id: ID!) { updatePrice(id: $id, input: {unitAmount: 5}) { id } }',
                             {"id": created["id"]})
    assert inline["extensions"]["type"] == "invalid_request_error", inline
    read = await api.ok("query($id: ID!) { price(id: $id) { unitAmount currency } }", {"id": created["id"]})
    assert read["price"] == {"unitAmount": 1000, "currency": "usd"}


async def test_the_updatable_fields_work(api):
    prod = await product(api)
    created = await price(api, product=prod, currency="usd", unitAmount=1000, nickname="old", metadata={"a": "1"})
    updated = (await api.ok(UPDATE_PRICE, {"id": created["id"], "input": {
        "active": False, "nickname": "Monthly", "lookupKey": "monthly", "metadata": {"b": "2"}}}))["updatePrice"]
    assert (updated["active"], updated["nickname"], updated["lookupKey"]) == (False, "Monthly", "monthly")
    assert updated["metadata"] == {"a": "1", "b": "2"} and updated["unitAmount"] == 1000
    cleared = (await api.ok(UPDATE_PRICE, {"id": created["id"], "input": {"nickname": None, "lookupKey": None}}))
    assert (cleared["updatePrice"]["nickname"], cleared["updatePrice"]["lookupKey"]) == (None, None)
    await refused(api, UPDATE_PRICE, {"id": created["id"], "input": {"active": None}}, "parameter_invalid", "active")


# -- lookup keys -------------------------------------------------------------------------------

async def test_lookup_key_is_unique_among_active_prices(api):
    prod = await product(api)
    first = await price(api, product=prod, currency="usd", unitAmount=1, lookupKey="standard")
    await refused(api, CREATE_PRICE, {"input": {"product": prod, "currency": "usd", "unitAmount": 2,
                                                "lookupKey": "standard"}}, "parameter_invalid", "lookupKey")
    other = await price(api, product=prod, currency="usd", unitAmount=3)
    await refused(api, UPDATE_PRICE, {"id": other["id"], "input": {"lookupKey": "standard"}},
                  "parameter_invalid", "lookupKey")
    found = await api.ok('{ prices(lookupKeys: ["standard"]) { nodes { id } } }')
    assert found["prices"]["nodes"] == [{"id": first["id"]}]


async def test_transfer_lookup_key_moves_it_and_records_the_change(api):
    prod = await product(api)
    old = await price(api, product=prod, currency="usd", unitAmount=1, lookupKey="pro")
    new = await price(api, product=prod, currency="usd", unitAmount=2, lookupKey="pro", transferLookupKey=True)
    assert new["lookupKey"] == "pro"
    read = await api.ok("query($id: ID!) { price(id: $id) { lookupKey } }", {"id": old["id"]})
    assert read["price"]["lookupKey"] is None
    found = await api.ok('{ prices(lookupKeys: ["pro"]) { nodes { id } } }')
    assert found["prices"]["nodes"] == [{"id": new["id"]}]
    events = (await api.ok('{ events(type: "price.updated") { nodes { data } } }'))["events"]["nodes"]
    assert len(events) == 1
    assert events[0]["data"]["object"]["id"] == old["id"]
    assert events[0]["data"]["object"]["lookup_key"] is None
    assert events[0]["data"]["previous_attributes"] == {"lookup_key": "pro"}
    # And back again by an update.
    back = await api.ok(UPDATE_PRICE, {"id": old["id"], "input": {"lookupKey": "pro", "transferLookupKey": True}})
    assert back["updatePrice"]["lookupKey"] == "pro"
    read = await api.ok("query($id: ID!) { price(id: $id) { lookupKey } }", {"id": new["id"]})
    assert read["price"]["lookupKey"] is None


async def test_archiving_a_price_frees_its_lookup_key(api):
    prod = await product(api)
    old = await price(api, product=prod, currency="usd", unitAmount=1, lookupKey="basic")
    await api.ok(UPDATE_PRICE, {"id": old["id"], "input": {"active": False}})
    new = await price(api, product=prod, currency="usd", unitAmount=2, lookupKey="basic")
    assert new["lookupKey"] == "basic"
    found = await api.ok('{ prices(lookupKeys: ["basic"]) { nodes { id } } }')
    assert found["prices"]["nodes"] == [{"id": new["id"]}]
    # The archived price keeps its key but cannot be reactivated while another active price holds it.
    await refused(api, UPDATE_PRICE, {"id": old["id"], "input": {"active": True}}, "parameter_invalid", "lookupKey")
    await api.ok(UPDATE_PRICE, {"id": new["id"], "input": {"active": False}})
    assert (await api.ok(UPDATE_PRICE, {"id": old["id"], "input": {"active": True}}))["updatePrice"]["active"]


# -- products ----------------------------------------------------------------------------------

async def test_a_product_with_prices_cannot_be_deleted(api):
    prod = await product(api)
    archived = await price(api, product=prod, currency="usd", unitAmount=1)
    await api.ok(UPDATE_PRICE, {"id": archived["id"], "input": {"active": False}})
    await refused(api, "mutation($id: ID!) { deleteProduct(id: $id) { id } }", {"id": prod},
                  "parameter_invalid", "id")
    read = await api.ok("query($id: ID!) { product(id: $id) { deleted active } }", {"id": prod})
    assert read["product"] == {"deleted": False, "active": True}


async def test_a_product_without_prices_is_deleted_softly(api):
    keep, gone = await product(api, "Keep"), await product(api, "Gone")
    deleted = await api.ok("mutation($id: ID!) { deleteProduct(id: $id) { id deleted } }", {"id": gone})
    assert deleted["deleteProduct"] == {"id": gone, "deleted": True}
    read = await api.ok("query($id: ID!) { product(id: $id) { id deleted active } }", {"id": gone})
    assert read["product"] == {"id": gone, "deleted": True, "active": False}
    listed = await api.ok("{ all: products { nodes { id } } archived: products(active: false) { nodes { id } } }")
    assert listed["all"]["nodes"] == [{"id": keep}]
    assert listed["archived"]["nodes"] == []
    await refused(api, "mutation($id: ID!) { deleteProduct(id: $id) { id } }", {"id": gone}, "resource_missing", "id")
    await refused(api, 'mutation($id: ID!) { updateProduct(id: $id, input: {name: "x"}) { id } }', {"id": gone},
                  "resource_missing", "id")
    await refused(api, CREATE_PRICE, {"input": {"product": gone, "currency": "usd", "unitAmount": 1}},
                  "resource_missing", "product")


async def test_product_rules(api):
    await refused(api, PRODUCT, {"input": {"name": "  "}}, "parameter_invalid", "name")
    await refused(api, PRODUCT, {"input": {"name": "a\x00b"}}, "parameter_invalid", "name")  # PostgreSQL refuses NUL
    await refused(api, PRODUCT, {"input": {"name": "x" * 5001}}, "parameter_invalid", "name")
    await refused(api, PRODUCT, {"input": {"name": "x", "id": "bad id!"}}, "parameter_invalid", "id")
    custom = await api.ok(PRODUCT, {"input": {"name": "Custom", "id": "gold-plan"}})
    assert custom["createProduct"]["id"] == "gold-plan"
    await refused(api, PRODUCT, {"input": {"name": "again", "id": "gold-plan"}}, "resource_already_exists", "id")
    inactive = await api.ok(PRODUCT, {"input": {"name": "Old", "active": False}})
    listed = await api.ok("{ products(active: false) { nodes { id } } }")
    assert listed["products"]["nodes"] == [{"id": inactive["createProduct"]["id"]}]
    await refused(api, 'mutation { updateProduct(id: "gold-plan", input: {name: null}) { id } }', {},
                  "parameter_invalid", "name")


async def test_default_price(api):
    prod, other = await product(api), await product(api, "Other")
    mine = await price(api, product=prod, currency="usd", unitAmount=1)
    theirs = await price(api, product=other, currency="usd", unitAmount=1)
    update = ("mutation($id: ID!, $price: ID) { updateProduct(id: $id, input: {defaultPrice: $price}) "
              "{ defaultPrice { id } } }")
    assert (await api.ok(update, {"id": prod, "price": mine["id"]}))["updateProduct"]["defaultPrice"] == {
        "id": mine["id"]}
    await refused(api, update, {"id": prod, "price": theirs["id"]}, "parameter_invalid", "defaultPrice")
    await refused(api, update, {"id": prod, "price": "price_nope"}, "resource_missing", "defaultPrice")
    await api.ok(UPDATE_PRICE, {"id": theirs["id"], "input": {"active": False}})
    await refused(api, update, {"id": other, "price": theirs["id"]}, "parameter_invalid", "defaultPrice")
    # As in Stripe, the default price cannot be archived while it is the default.
    await refused(api, UPDATE_PRICE, {"id": mine["id"], "input": {"active": False}}, "parameter_invalid", "active")
    assert (await api.ok(update, {"id": prod, "price": None}))["updateProduct"]["defaultPrice"] is None
    archived = await api.ok(UPDATE_PRICE, {"id": mine["id"], "input": {"active": False}})
    assert archived["updatePrice"]["active"] is False


async def test_price_lists_filter(api):
    prod, other = await product(api), await product(api, "Other")
    one_time = await price(api, product=prod, currency="usd", unitAmount=1)
    monthly = await price(api, product=prod, currency="usd", unitAmount=1, recurring={"interval": "MONTH"})
    await price(api, product=other, currency="usd", unitAmount=1)
    await api.ok(UPDATE_PRICE, {"id": one_time["id"], "input": {"active": False}})
    data = await api.ok("""query($p: ID!) {
        mine: prices(product: $p) { nodes { id } }
        recurring: prices(product: $p, type: RECURRING) { nodes { id } }
        active: prices(product: $p, active: true) { nodes { id } }
        product(id: $p) { prices { nodes { id } } activePrices: prices(active: false) { nodes { id } } } }""",
                        {"p": prod})
    assert {n["id"] for n in data["mine"]["nodes"]} == {one_time["id"], monthly["id"]}
    assert data["recurring"]["nodes"] == [{"id": monthly["id"]}]
    assert data["active"]["nodes"] == [{"id": monthly["id"]}]
    assert {n["id"] for n in data["product"]["prices"]["nodes"]} == {one_time["id"], monthly["id"]}
    assert data["product"]["activePrices"]["nodes"] == [{"id": one_time["id"]}]


# -- pagination --------------------------------------------------------------------------------

PAGE = """query($first: Int, $after: String) { products(first: $first, after: $after) {
    edges { cursor node { id created } } nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor } } }"""


async def test_pagination_walks_every_product_once_newest_first(api):
    created = {await product(api, f"P{i}") for i in range(25)}
    first_page = (await api.ok(PAGE))["products"]
    assert len(first_page["nodes"]) == 10  # the default page size
    seen, after, pages = [], None, 0
    while True:
        page = (await api.ok(PAGE, {"first": 10, "after": after}))["products"]
        pages += 1
        edges = page["edges"]
        assert [e["node"]["id"] for e in edges] == [n["id"] for n in page["nodes"]]
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        assert page["pageInfo"]["endCursor"] == edges[-1]["cursor"]
        seen.extend((e["node"]["created"], e["node"]["id"]) for e in edges)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3 and len(seen) == 25
    assert {id for _, id in seen} == created
    assert seen == sorted(seen, reverse=True)  # newest first: created desc, then id desc
    assert [n["id"] for n in first_page["nodes"]] == [id for _, id in seen[:10]]
    last = (await api.ok(PAGE, {"first": 10, "after": after}))["products"]
    assert len(last["nodes"]) == 5 and last["pageInfo"]["hasNextPage"] is False
    assert len((await api.ok(PAGE, {"first": 100}))["products"]["nodes"]) == 25
    empty = (await api.ok(PAGE, {"first": 0}))["products"]
    assert empty["nodes"] == [] and empty["pageInfo"]["endCursor"] is None


async def test_page_size_and_cursor_errors(api):
    await product(api)
    for first in (101, -1):
        error = await api.error(PAGE, {"first": first})
        assert error["extensions"] == {"code": "parameter_invalid", "type": "invalid_request_error",
                                       "param": "first"}, error
    for cursor in ("garbage!", "bm90IGEgY3Vyc29y", "", "bm90YWRhdGV8cHJvZF94"):
        error = await api.error(PAGE, {"after": cursor})
        assert error["extensions"]["type"] == "invalid_request_error", error
        assert error["extensions"]["param"] == "after", error
    nested = await api.error('{ products { nodes { prices(first: 101) { nodes { id } } } } }')
    assert nested["extensions"]["param"] == "first", nested


async def test_concurrent_prices_cannot_share_a_lookup_key(pg_api):
    """PostgreSQL: the unique index on active lookup keys decides; the loser gets a clear error, not a 500."""
    prod = await product(pg_api)
    results = await asyncio.gather(*(pg_api.post(CREATE_PRICE, {"input": {
        "product": prod, "currency": "usd", "unitAmount": i, "lookupKey": "race"}}) for i in range(6)))
    errors = [body["errors"][0]["extensions"] for _, body in results if body.get("errors")]
    assert len(errors) == 5
    assert all(e == {"code": "parameter_invalid", "type": "invalid_request_error", "param": "lookupKey"}
               for e in errors), errors
    found = await pg_api.ok('{ prices(lookupKeys: ["race"]) { nodes { id } } all: prices { nodes { id } } }')
    assert len(found["prices"]["nodes"]) == 1 and len(found["all"]["nodes"]) == 1
