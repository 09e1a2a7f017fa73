"""Metadata and update-input semantics through the API, on every object that has metadata:
string keys and values, at most 50 keys of up to 40 characters, values up to 500; updates merge,
"" or null removes a key, metadata: null clears all; an omitted field is unchanged, an explicit null clears."""
import pytest


async def _product(api) -> str:
    return (await api.ok('mutation { createProduct(input: {name: "Host"}) { id } }'))["createProduct"]["id"]


KINDS = {
    "product": ("createProduct", "CreateProductInput", {"name": "Pro"}, "updateProduct", "UpdateProductInput"),
    "price": ("createPrice", "CreatePriceInput", {"currency": "usd", "unitAmount": 100}, "updatePrice",
              "UpdatePriceInput"),
    "customer": ("createCustomer", "CreateCustomerInput", {}, "updateCustomer", "UpdateCustomerInput"),
    "coupon": ("createCoupon", "CreateCouponInput", {"duration": "ONCE", "percentOff": "5"}, "updateCoupon",
               "UpdateCouponInput"),
    "feature": ("createFeature", "CreateFeatureInput", {"name": "F", "lookupKey": "f"}, "updateFeature",
                "UpdateFeatureInput"),
}
COUNTS = """{ products(first: 100) { nodes { id } } prices(first: 100) { nodes { id } }
    customers(first: 100) { nodes { id } } coupons(first: 100) { nodes { id } } features(first: 100) { nodes { id } }
    events(first: 100) { nodes { id } } }"""


async def counts(api) -> dict:
    return {key: len(value["nodes"]) for key, value in (await api.ok(COUNTS)).items()}


async def create(api, kind: str, metadata):
    """(status, body) of creating a `kind` with that metadata."""
    mutation, input_type, fields, _, _ = KINDS[kind]
    fields = dict(fields)
    if kind == "price":
        fields["product"] = await _product(api)
    query = f"mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ id metadata }} }}"
    return await api.post(query, {"input": {**fields, "metadata": metadata}})


async def update(api, kind: str, id: str, input: dict):
    _, _, _, mutation, input_type = KINDS[kind]
    query = f"mutation($id: ID!, $input: {input_type}!) {{ {mutation}(id: $id, input: $input) {{ id metadata }} }}"
    return await api.post(query, {"id": id, "input": input})


def ok(response) -> dict:
    status, body = response
    assert status == 200 and not body.get("errors"), body
    return next(iter(body["data"].values()))


def invalid_metadata(response) -> None:
    _, body = response
    assert body.get("errors"), body
    assert body["errors"][0]["extensions"] == {"code": "parameter_invalid", "type": "invalid_request_error",
                                               "param": "metadata"}, body


BAD_METADATA = [
    {"n": 1},
    {"n": True},
    {"nested": {"a": "b"}},
    {"list": ["a"]},
    {"k" * 41: "v"},
    {"": "v"},
    {"v": "x" * 501},
    {"nul": "a\x00"},
    {f"k{i}": "v" for i in range(51)},
    ["a", "b"],
    "a string",
]


@pytest.mark.parametrize("kind", KINDS)
async def test_rules_on_create(api, kind):
    for metadata in BAD_METADATA:
        before = await counts(api)
        invalid_metadata(await create(api, kind, metadata))
        after = await counts(api)
        if kind == "price":  # the price's product was made (and its event recorded) by the helper
            after["products"] -= 1
            after["events"] -= 1
        assert after == before, metadata
    largest = {f"{i:02d}" + "k" * 38: "v" * 500 for i in range(50)}
    assert ok(await create(api, kind, largest))["metadata"] == largest


@pytest.mark.parametrize("kind", KINDS)
async def test_updates_merge_and_remove(api, kind):
    created = ok(await create(api, kind, {"keep": "1", "change": "2", "drop": "3", "null": "4", "empty": ""}))
    assert created["metadata"] == {"keep": "1", "change": "2", "drop": "3", "null": "4"}  # "" is no value
    id = created["id"]
    merged = ok(await update(api, kind, id, {"metadata": {"change": "two", "drop": "", "null": None, "new": "5"}}))
    assert merged["metadata"] == {"keep": "1", "change": "two", "new": "5"}
    assert ok(await update(api, kind, id, {}))["metadata"] == merged["metadata"]  # omitted: unchanged
    for bad in ({"n": 2}, {"x" * 41: "v"}, {f"more{i}": "v" for i in range(48)}):  # 3 + 48 > 50 keys
        before = await counts(api)
        invalid_metadata(await update(api, kind, id, {"metadata": bad}))
        assert await counts(api) == before
    assert ok(await update(api, kind, id, {"metadata": {f"more{i}": "v" for i in range(47)}}))["metadata"]
    assert ok(await update(api, kind, id, {"metadata": None}))["metadata"] == {}  # null clears all
    events = (await api.ok("{ events(first: 100) { nodes { type data } } }"))["events"]["nodes"]
    updates = [e["data"] for e in events if e["type"].endswith(".updated")]
    assert len(updates) == 3  # the empty update and the refused ones recorded nothing
    cleared = next(d for d in updates if d["object"]["metadata"] == {})
    assert len(cleared["previous_attributes"]["metadata"]) == 50


async def test_omitted_fields_are_unchanged_and_null_clears(api):
    product = (await api.ok('mutation { createProduct(input: {name: "Pro", description: "Desc", '
                            'metadata: {a: "1"}}) { id } }'))["createProduct"]["id"]
    query = ("mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) "
             "{ name description active metadata } }")
    renamed = (await api.ok(query, {"id": product, "input": {"name": "Pro 2"}}))["updateProduct"]
    assert renamed == {"name": "Pro 2", "description": "Desc", "active": True, "metadata": {"a": "1"}}
    cleared = (await api.ok(query, {"id": product, "input": {"description": None}}))["updateProduct"]
    assert cleared == {"name": "Pro 2", "description": None, "active": True, "metadata": {"a": "1"}}
    inline = await api.ok('mutation($id: ID!) { updateProduct(id: $id, input: {metadata: null}) { metadata } }',
                          {"id": product})
    assert inline["updateProduct"]["metadata"] == {}
    read = await api.ok("query($id: ID!) { product(id: $id) { name description metadata } }", {"id": product})
    assert read["product"] == {"name": "Pro 2", "description": None, "metadata": {}}

    customer = (await api.ok('mutation { createCustomer(input: {email: "a@example.com", name: "Ada", '
                             'description: "VIP"}) { id } }'))["createCustomer"]["id"]
    query = ("mutation($id: ID!, $input: UpdateCustomerInput!) { updateCustomer(id: $id, input: $input) "
             "{ email name description } }")
    updated = (await api.ok(query, {"id": customer, "input": {"name": None, "email": "b@example.com"}}))
    assert updated["updateCustomer"] == {"email": "b@example.com", "name": None, "description": "VIP"}

    coupon = (await api.ok('mutation { createCoupon(input: {duration: ONCE, percentOff: "5", name: "N"}) { id } }'))
    cleared = await api.ok('mutation($id: ID!) { updateCoupon(id: $id, input: {name: null}) { name percentOff } }',
                           {"id": coupon["createCoupon"]["id"]})
    assert cleared["updateCoupon"] == {"name": None, "percentOff": "5"}
