"""Entitlement features through the API: unique lookup keys among active features, archiving,
and attaching features to products."""
FEATURE = "id name lookupKey active metadata"
CREATE = "mutation($input: CreateFeatureInput!) { createFeature(input: $input) { " + FEATURE + " } }"
UPDATE = ("mutation($id: ID!, $input: UpdateFeatureInput!) { updateFeature(id: $id, input: $input) { "
          + FEATURE + " } }")
ATTACH = """mutation($product: ID!, $feature: ID!) {
    createProductFeature(product: $product, entitlementFeature: $feature)
    { id product { id } entitlementFeature { id lookupKey } } }"""
DETACH = "mutation($product: ID!, $id: ID!) { deleteProductFeature(product: $product, id: $id) { id deleted } }"
COUNTS = """{ features(first: 100) { nodes { id } } events(first: 100) { nodes { id } }
    products(first: 100) { nodes { features(first: 100) { nodes { id } } } } }"""


async def counts(api) -> dict:
    data = await api.ok(COUNTS)
    attached = sum(len(p["features"]["nodes"]) for p in data["products"]["nodes"])
    return {"features": len(data["features"]["nodes"]), "events": len(data["events"]["nodes"]), "attached": attached}


async def refused(api, query: str, variables: dict, code: str, param: str | None) -> dict:
    before = await counts(api)
    error = await api.error(query, variables)
    assert error["extensions"] == {"code": code, "type": "invalid_request_error", "param": param}, error
    assert await counts(api) == before
    return error


async def feature(api, lookup_key: str, name: str = "Feature") -> dict:
    return (await api.ok(CREATE, {"input": {"name": name, "lookupKey": lookup_key}}))["createFeature"]


async def product(api) -> str:
    return (await api.ok('mutation { createProduct(input: {name: "Pro"}) { id } }'))["createProduct"]["id"]


async def test_create_read_and_list(api):
    created = (await api.ok(CREATE, {"input": {"name": "SSO", "lookupKey": "sso", "metadata": {"a": "1"}}}))
    sso = created["createFeature"]
    assert sso["id"].startswith("feat_")
    assert (sso["name"], sso["lookupKey"], sso["active"], sso["metadata"]) == ("SSO", "sso", True, {"a": "1"})
    other = await feature(api, "audit")
    data = await api.ok("query($id: ID!) { feature(id: $id) { " + FEATURE + """ }
        missing: feature(id: "feat_nope") { id }
        byKey: features(lookupKey: "sso") { nodes { id } } all: features { nodes { id } } }""",
                        {"id": sso["id"]})
    assert data["feature"] == sso and data["missing"] is None
    assert data["byKey"]["nodes"] == [{"id": sso["id"]}]
    assert {n["id"] for n in data["all"]["nodes"]} == {sso["id"], other["id"]}


async def test_required_fields(api):
    await refused(api, CREATE, {"input": {"name": "", "lookupKey": "k"}}, "parameter_invalid", "name")
    await refused(api, CREATE, {"input": {"name": "n", "lookupKey": " "}}, "parameter_invalid", "lookupKey")
    await refused(api, CREATE, {"input": {"name": "n" * 81, "lookupKey": "k"}}, "parameter_invalid", "name")


async def test_lookup_key_is_unique_among_active_features(api):
    first = await feature(api, "seats")
    await refused(api, CREATE, {"input": {"name": "Again", "lookupKey": "seats"}}, "parameter_invalid", "lookupKey")
    archived = (await api.ok(UPDATE, {"id": first["id"], "input": {"active": False}}))["updateFeature"]
    assert archived["active"] is False and archived["lookupKey"] == "seats"
    reused = await feature(api, "seats", "Seats v2")
    assert reused["lookupKey"] == "seats" and reused["active"] is True
    data = await api.ok('{ active: features(lookupKey: "seats", active: true) { nodes { id } } '
                        'archived: features(active: false) { nodes { id } } }')
    assert data["active"]["nodes"] == [{"id": reused["id"]}]
    assert data["archived"]["nodes"] == [{"id": first["id"]}]


async def test_archived_features_cannot_be_edited_unarchived_or_attached(api):
    prod = await product(api)
    archived = await feature(api, "old")
    await api.ok(UPDATE, {"id": archived["id"], "input": {"active": False}})
    for change in ({"name": "New name"}, {"active": True}, {"metadata": {"a": "b"}}):
        await refused(api, UPDATE, {"id": archived["id"], "input": change}, "parameter_invalid", "id")
    await refused(api, ATTACH, {"product": prod, "feature": archived["id"]}, "parameter_invalid",
                  "entitlementFeature")
    read = await api.ok("query($id: ID!) { feature(id: $id) { name active metadata } }", {"id": archived["id"]})
    assert read["feature"] == {"name": "Feature", "active": False, "metadata": {}}


async def test_update(api):
    created = (await api.ok(CREATE, {"input": {"name": "A", "lookupKey": "a", "metadata": {"x": "1"}}}))
    feat = created["createFeature"]
    updated = (await api.ok(UPDATE, {"id": feat["id"], "input": {"name": "B", "metadata": {"y": "2"}}}))
    assert updated["updateFeature"]["name"] == "B"
    assert updated["updateFeature"]["metadata"] == {"x": "1", "y": "2"}
    await refused(api, UPDATE, {"id": feat["id"], "input": {"name": None}}, "parameter_invalid", "name")
    await refused(api, UPDATE, {"id": feat["id"], "input": {"active": None}}, "parameter_invalid", "active")
    await refused(api, UPDATE, {"id": "feat_nope", "input": {"name": "x"}}, "resource_missing", "id")
    events = (await api.ok('{ events(type: "entitlements.feature.updated") { nodes { data } } }'))["events"]
    assert len(events["nodes"]) == 1
    data = events["nodes"][0]["data"]
    assert data["object"]["object"] == "entitlements.feature" and data["object"]["name"] == "B"
    assert data["previous_attributes"] == {"name": "A", "metadata": {"x": "1"}}


async def test_attach_and_detach(api):
    prod = await product(api)
    sso, audit = await feature(api, "sso"), await feature(api, "audit")
    attached = (await api.ok(ATTACH, {"product": prod, "feature": sso["id"]}))["createProductFeature"]
    assert attached["id"].startswith("prodft_")
    assert attached["product"] == {"id": prod}
    assert attached["entitlementFeature"] == {"id": sso["id"], "lookupKey": "sso"}
    await api.ok(ATTACH, {"product": prod, "feature": audit["id"]})
    await refused(api, ATTACH, {"product": prod, "feature": sso["id"]}, "parameter_invalid", "entitlementFeature")
    await refused(api, ATTACH, {"product": "prod_nope", "feature": sso["id"]}, "resource_missing", "product")
    await refused(api, ATTACH, {"product": prod, "feature": "feat_nope"}, "resource_missing", "entitlementFeature")
    listed = await api.ok("query($id: ID!) { product(id: $id) { features { nodes { entitlementFeature { id } } } } }",
                          {"id": prod})
    assert {n["entitlementFeature"]["id"] for n in listed["product"]["features"]["nodes"]} == {sso["id"], audit["id"]}

    other = await product(api)
    await refused(api, DETACH, {"product": other, "id": attached["id"]}, "parameter_invalid", "id")
    await refused(api, DETACH, {"product": prod, "id": "prodft_nope"}, "resource_missing", "id")
    detached = await api.ok(DETACH, {"product": prod, "id": attached["id"]})
    assert detached["deleteProductFeature"] == {"id": attached["id"], "deleted": True}
    listed = await api.ok("query($id: ID!) { product(id: $id) { features { nodes { entitlementFeature { id } } } } }",
                          {"id": prod})
    assert [n["entitlementFeature"]["id"] for n in listed["product"]["features"]["nodes"]] == [audit["id"]]
    # Once detached, it can be attached again.
    assert (await api.ok(ATTACH, {"product": prod, "feature": sso["id"]}))["createProductFeature"]["id"]
