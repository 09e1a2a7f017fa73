"""Two customers with subscriptions, invoices, discounts and payment methods, an active and an archived part
of the catalog, and a customer session for the first customer."""
from dataclasses import dataclass

import pytest_asyncio

from tests.billing_flows import create_customer, create_price, subscribe

SESSION = "mutation($c: ID!) { createCustomerSession(customer: $c) { clientSecret expiresAt customer { id } } }"
FORBIDDEN = {"code": "forbidden", "type": "permission_error"}


@dataclass
class Side:
    customer: str
    subscription: str
    item: str
    invoice: str
    payment_method: str
    discount: str
    invoice_item: str


@dataclass
class World:
    api: object
    own: Side
    other: Side
    secret: str  # the own customer's session
    price: str  # active, on both subscriptions
    product: str
    other_price: str  # active, of the same product
    archived_price: str
    archived_product: str
    feature: str
    archived_feature: str
    coupon: str

    async def as_session(self, query: str, variables: dict | None = None):
        return await self.api.post(query, variables, secret=self.secret)

    async def ok(self, query: str, variables: dict | None = None) -> dict:
        return await self.api.ok(query, variables, secret=self.secret)

    async def refused(self, query: str, variables: dict | None = None) -> dict:
        """The permission_error a session gets, with no data."""
        status, body = await self.as_session(query, variables)
        assert status == 200 and body.get("errors"), body
        error = body["errors"][0]
        assert {k: error["extensions"][k] for k in FORBIDDEN} == FORBIDDEN, body
        assert body.get("data") is None, body
        return error


async def _side(api, price: str, coupon: str) -> Side:
    customer = await create_customer(api, None, coupon=coupon)
    sub = await subscribe(api, customer, price)
    data = (await api.ok("""query($c: ID!) { customer(id: $c) {
        paymentMethods { nodes { id } } discount { id } } }""", {"c": customer}))["customer"]
    item = await api.ok("""mutation($c: ID!) { createInvoiceItem(input: {customer: $c, amount: 300, currency: "usd"})
        { id } }""", {"c": customer})
    return Side(customer=customer, subscription=sub["id"], item=sub["items"]["nodes"][0]["id"],
                invoice=sub["latestInvoice"]["id"], payment_method=data["paymentMethods"]["nodes"][0]["id"],
                discount=data["discount"]["id"], invoice_item=item["createInvoiceItem"]["id"])


async def _product_of(api, price: str) -> str:
    return (await api.ok("query($p: ID!) { price(id: $p) { product { id } } }", {"p": price}))["price"]["product"]["id"]


async def build_world(api) -> World:
    price = await create_price(api, 2000, name="Pro")
    product = await _product_of(api, price)
    other_price = (await api.ok("""mutation($p: ID!) { createPrice(input: {product: $p, currency: "usd",
        unitAmount: 5000, recurring: {interval: MONTH}}) { id } }""", {"p": product}))["createPrice"]["id"]
    archived_price = await create_price(api, 900, name="Legacy")
    archived_product = await _product_of(api, archived_price)
    await api.ok("mutation($p: ID!) { updatePrice(id: $p, input: {active: false}) { id } }", {"p": archived_price})
    await api.ok("mutation($p: ID!) { updateProduct(id: $p, input: {active: false}) { id } }", {"p": archived_product})
    feature = (await api.ok('mutation { createFeature(input: {name: "SSO", lookupKey: "sso"}) { id } }'))
    feature = feature["createFeature"]["id"]
    archived_feature = (await api.ok('mutation { createFeature(input: {name: "Old", lookupKey: "old"}) { id } }'))
    archived_feature = archived_feature["createFeature"]["id"]
    await api.ok("mutation($f: ID!) { updateFeature(id: $f, input: {active: false}) { id } }", {"f": archived_feature})
    await api.ok("mutation($p: ID!, $f: ID!) { createProductFeature(product: $p, entitlementFeature: $f) { id } }",
                 {"p": product, "f": feature})
    coupon = (await api.ok("mutation { createCoupon(input: {percentOff: 10, duration: FOREVER}) { id } }"))
    coupon = coupon["createCoupon"]["id"]
    own, other = await _side(api, price, coupon), await _side(api, price, coupon)
    secret = (await api.ok(SESSION, {"c": own.customer}))["createCustomerSession"]["clientSecret"]
    return World(api=api, own=own, other=other, secret=secret, price=price, product=product, other_price=other_price,
                 archived_price=archived_price, archived_product=archived_product, feature=feature,
                 archived_feature=archived_feature, coupon=coupon)


@pytest_asyncio.fixture(name="world")
async def world_fixture(api) -> World:
    return await build_world(api)
