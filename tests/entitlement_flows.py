"""Shared steps for entitlement tests: products with features, and reading a customer's entitlements."""
from tests.billing_flows import create_price

ENTITLEMENTS = """query($c: ID!) { activeEntitlements(customer: $c, first: 100) {
  nodes { id lookupKey feature { id lookupKey active } } } }"""
LIVE_ENTITLEMENTS = """subscription($c: ID!) { activeEntitlementsChanged(customer: $c) {
  entitlements(first: 100) { nodes { lookupKey } } } }"""
SUMMARIES = """query { events(first: 100, type: "entitlements.active_entitlement_summary.updated") {
  nodes { id type created data } } }"""


async def feature(api, lookup_key: str) -> str:
    data = await api.ok("mutation($k: String!) { createFeature(input: {name: $k, lookupKey: $k}) { id } }",
                        {"k": lookup_key})
    return data["createFeature"]["id"]


async def attach(api, product: str, feature_id: str) -> str:
    data = await api.ok("mutation($p: ID!, $f: ID!) { createProductFeature(product: $p, entitlementFeature: $f) "
                        "{ id } }", {"p": product, "f": feature_id})
    return data["createProductFeature"]["id"]


async def product_of(api, price: str) -> str:
    return (await api.ok("query($p: ID!) { price(id: $p) { product { id } } }", {"p": price}))["price"]["product"]["id"]


async def plan(api, name: str, lookup_keys: list[str], unit_amount: int = 2000) -> tuple[str, str]:
    """A monthly price of a new product with a new feature per lookup key: (price, product)."""
    price = await create_price(api, unit_amount, name=name)
    product = await product_of(api, price)
    for key in lookup_keys:
        await attach(api, product, await feature(api, key))
    return price, product


async def lookup_keys(api, customer: str) -> set[str]:
    data = await api.ok(ENTITLEMENTS, {"c": customer})
    return {n["lookupKey"] for n in data["activeEntitlements"]["nodes"]}


async def summaries(api, customer: str) -> list[dict]:
    """The customer's entitlement summary events' data, oldest first."""
    nodes = (await api.ok(SUMMARIES))["events"]["nodes"]
    return [n["data"] for n in reversed(nodes) if n["data"]["object"]["customer"] == customer]


def keys_of(summary: dict) -> set[str]:
    return {e["lookup_key"] for e in summary["entitlements"]["data"]}


def live_keys(payload: dict) -> set[str]:
    """The lookup keys of an activeEntitlementsChanged message."""
    assert not payload.get("errors"), payload
    return {n["lookupKey"] for n in payload["data"]["activeEntitlementsChanged"]["entitlements"]["nodes"]}
