"""The boundary of a customer session, walked over HTTP: every root field and mutation of the schema, every
field of every type a session reaches (both generated from the schema, so new fields are covered as they
come), own data against others', and the active catalog against the archived one."""
import re

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
    is_leaf_type,
)
from graphql.pyutils import Undefined

from app.graphql.auth import ROOT_RULES, SESSION_FIELDS
from app.graphql.schema import schema
from app.models.events import Event
from tests.sessions.world import World, world_fixture  # noqa: F401 - the fixture

GRAPHQL = schema._schema
SCALAR_LITERALS = {"ID": '"x_1"', "String": '"x"', "Int": "1", "Float": "1.5", "Boolean": "true", "BigInt": "1",
                   "Decimal": '"1"', "DateTime": '"2030-01-01T00:00:00+00:00"', "JSON": "{}"}


def literal(type_) -> str:
    """A valid literal of an input type: required input fields only."""
    if isinstance(type_, GraphQLNonNull):
        return literal(type_.of_type)
    if isinstance(type_, GraphQLList):
        return f"[{literal(type_.of_type)}]"
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        fields = [f"{name}: {literal(f.type)}" for name, f in type_.fields.items()
                  if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined]
        return "{" + ", ".join(fields) + "}"
    assert isinstance(type_, GraphQLScalarType)
    return SCALAR_LITERALS[type_.name]


def call(name: str, field, extra: dict | None = None) -> str:
    """`name(required args...) { __typename }` for a field."""
    args = {n: literal(a.type) for n, a in field.args.items()
            if isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined}
    args.update(extra or {})
    text = name + ("(" + ", ".join(f"{n}: {v}" for n, v in args.items()) + ")" if args else "")
    return text if is_leaf_type(get_named_type(field.type)) else text + " { __typename }"


def root_fields(type_: GraphQLObjectType | None) -> list[str]:
    return sorted(type_.fields) if type_ is not None else []


@pytest.mark.parametrize("operation", ["query", "mutation"])
async def test_every_root_field_is_refused_to_a_session_without_its_own_ids(world: World, operation):
    """Unlisted fields are refused outright; listed ones with ids that are not the session's (or a catalog
    list without active: true) by their rule. Nothing a session sends writes anything."""
    root = GRAPHQL.query_type if operation == "query" else GRAPHQL.mutation_type
    assert (operation == "mutation") == (not ROOT_RULES[operation])
    events = await Event.all().count()
    for name in root_fields(root):
        error = await world.refused(f"{operation} {{ {call(name, root.fields[name])} }}")
        assert error["message"].startswith(("A customer session", "`")), error
    assert await Event.all().count() == events


async def test_introspection_and_typename_are_allowed(world: World):
    data = await world.ok("{ __typename __schema { queryType { name } } __type(name: \"Customer\") { name } }")
    assert data == {"__typename": "Query", "__schema": {"queryType": {"name": "Query"}},
                    "__type": {"name": "Customer"}}


# Where each type a session may read is found, from the session's own customer or the active catalog.
PATHS = {
    "Customer": "customer(id: $c) { %s }",
    "InvoiceSettings": "customer(id: $c) { invoiceSettings { %s } }",
    "PaymentMethod": "customer(id: $c) { paymentMethods { nodes { %s } } }",
    "PaymentMethodConnection": "customer(id: $c) { paymentMethods { %s } }",
    "PaymentMethodEdge": "customer(id: $c) { paymentMethods { edges { %s } } }",
    "Card": "customer(id: $c) { paymentMethods { nodes { card { %s } } } }",
    "Discount": "customer(id: $c) { discount { %s } }",
    "Coupon": "customer(id: $c) { discount { coupon { %s } } }",
    "Subscription": "subscription(id: $s) { %s }",
    "SubscriptionConnection": "subscriptions(customer: $c) { %s }",
    "SubscriptionEdge": "subscriptions(customer: $c) { edges { %s } }",
    "PauseCollection": "subscription(id: $s) { pauseCollection { %s } }",
    "SubscriptionItem": "subscription(id: $s) { items { nodes { %s } } }",
    "SubscriptionItemConnection": "subscription(id: $s) { items { %s } }",
    "SubscriptionItemEdge": "subscription(id: $s) { items { edges { %s } } }",
    "Invoice": "invoice(id: $i) { %s }",
    "InvoiceConnection": "invoices(customer: $c) { %s }",
    "InvoiceEdge": "invoices(customer: $c) { edges { %s } }",
    "InvoiceStatusTransitions": "invoice(id: $i) { statusTransitions { %s } }",
    "DiscountAmount": "invoice(id: $i) { totalDiscountAmounts { %s } }",
    "PaymentIntent": "invoice(id: $i) { paymentIntent { %s } }",
    "PaymentError": "invoice(id: $i) { paymentIntent { lastPaymentError { %s } } }",
    "InvoiceLineItem": "invoice(id: $i) { lines { nodes { %s } } }",
    "InvoiceLineItemConnection": "invoice(id: $i) { lines { %s } }",
    "InvoiceLineItemEdge": "invoice(id: $i) { lines { edges { %s } } }",
    "Period": "invoice(id: $i) { lines { nodes { period { %s } } } }",
    "InvoiceItem": "invoiceItems(customer: $c) { nodes { %s } }",
    "InvoiceItemConnection": "invoiceItems(customer: $c) { %s }",
    "InvoiceItemEdge": "invoiceItems(customer: $c) { edges { %s } }",
    "Product": "product(id: $prod) { %s }",
    "ProductConnection": "products(active: true) { %s }",
    "ProductEdge": "products(active: true) { edges { %s } }",
    "ProductFeature": "product(id: $prod) { features { nodes { %s } } }",
    "ProductFeatureConnection": "product(id: $prod) { features { %s } }",
    "ProductFeatureEdge": "product(id: $prod) { features { edges { %s } } }",
    "Price": "price(id: $price) { %s }",
    "PriceConnection": "prices(active: true) { %s }",
    "PriceEdge": "prices(active: true) { edges { %s } }",
    "PriceTier": "price(id: $price) { tiers { %s } }",
    "Recurring": "price(id: $price) { recurring { %s } }",
    "TransformQuantity": "price(id: $price) { transformQuantity { %s } }",
    "Feature": "feature(id: $f) { %s }",
    "FeatureConnection": "features(active: true) { %s }",
    "FeatureEdge": "features(active: true) { edges { %s } }",
    "PageInfo": "products(active: true) { pageInfo { %s } }",
    "ActiveEntitlement": "activeEntitlements(customer: $c) { nodes { %s } }",
    "ActiveEntitlementConnection": "activeEntitlements(customer: $c) { %s }",
    "ActiveEntitlementEdge": "activeEntitlements(customer: $c) { edges { %s } }",
    "Node": "node(id: $c) { %s }",
    "CreditGrant": "customer(id: $c) { creditGrants { nodes { %s } } }",
    "CreditGrantConnection": "customer(id: $c) { creditGrants { %s } }",
    "CreditGrantEdge": "customer(id: $c) { creditGrants { edges { %s } } }",
    "CreditGrantApplicabilityConfig": "customer(id: $c) { creditGrants { nodes { applicabilityConfig { %s } } } }",
    "CreditGrantScope": "customer(id: $c) { creditGrants { nodes { applicabilityConfig { scope { %s } } } } }",
    "InvoicePretaxCreditAmount": "invoice(id: $i) { totalPretaxCreditAmounts { %s } }",
    "UsageRecordSummary": "subscription(id: $s) { items { nodes { usageRecordSummaries { nodes { %s } } } } }",
    "UsageRecordSummaryConnection": "subscription(id: $s) { items { nodes { usageRecordSummaries { %s } } } }",
    "UsageRecordSummaryEdge": "subscription(id: $s) { items { nodes { usageRecordSummaries { edges { %s } } } } }",
}
# Reached only by subscriptions: walked over websockets (tests/sessions/test_session_websockets.py).
SUBSCRIBED = {"ActiveEntitlementSummary"}


def _variables(world: World, path: str) -> tuple[str, dict]:
    """The declaration and values of the variables a path uses."""
    values = {"c": world.own.customer, "s": world.own.subscription, "i": world.own.invoice, "prod": world.product,
              "price": world.price, "f": world.feature}
    used = {name: value for name, value in values.items() if re.search(rf"\${name}\b", path)}
    return ", ".join(f"${name}: ID!" for name in used), used


def test_every_type_a_session_reaches_has_a_path_in_this_test():
    reachable = {name for name in SESSION_FIELDS if name in GRAPHQL.type_map}
    assert reachable - set(PATHS) <= {"CustomerConnection", "CustomerEdge", *SUBSCRIBED}, reachable - set(PATHS)


def test_every_listed_field_exists():
    missing = {(t, f) for t, fields in SESSION_FIELDS.items() if t in GRAPHQL.type_map
               for f in fields if f not in GRAPHQL.type_map[t].fields and not (t.endswith("Connection")
                                                                               and f == "totalCount")}
    missing |= {(op, f) for op, fields in ROOT_RULES.items()
                for f in fields if (root := GRAPHQL.get_root_type(_op(op))) is None or f not in root.fields}
    assert not missing, missing


def _op(name: str):
    from graphql import OperationType

    return OperationType(name)


async def test_every_field_of_every_reachable_type_is_allowed_only_if_listed(world: World):
    checked = 0
    for type_name, path in PATHS.items():
        declared, variables = _variables(world, path)
        type_ = GRAPHQL.type_map[type_name]
        for name, field in type_.fields.items():
            extra = {"active": "true"} if "active" in field.args else {}
            query = f"query({declared}) {{ {path % call(name, field, extra)} }}" if declared else \
                f"{{ {path % call(name, field, extra)} }}"
            if name in SESSION_FIELDS[type_name]:
                status, body = await world.as_session(query, variables)
                assert status == 200 and not body.get("errors"), (type_name, name, body)
            else:
                error = await world.refused(query, variables)
                assert f"{type_name}.{name}" in error["message"]
            checked += 1
    assert checked > 200


FULL = """query($c: ID!) { customer(id: $c) {
  id email balance currency invoicePrefix metadata deleted
  invoiceSettings { defaultPaymentMethod { id card { brand last4 } } }
  discount { id start coupon { id percentOff duration valid } customer { id } }
  paymentMethods { nodes { id type customer { id } } }
  subscriptions { nodes { id status currentPeriodEnd customer { id } discount { id }
    items { nodes { id quantity price { id unitAmount recurring { interval } product { id name } } } }
    latestInvoice { id number total paymentIntent { id status amount } }
    upcomingInvoice { total lines { totalCount nodes { amount description } } } } }
  invoices { nodes { id number status total amountPaid paid customer { id } subscription { id }
    discounts { id coupon { id } } totalDiscountAmounts { amount discount { id } }
    lines { totalCount nodes { id amount description period { start end } price { id }
      subscription { id } subscriptionItem { id } } } } }
} }"""


async def test_a_session_reads_its_own_customer_as_a_secret_key_does(world: World):
    as_key = await world.api.ok(FULL, {"c": world.own.customer})
    as_session = await world.ok(FULL, {"c": world.own.customer})
    assert as_session == as_key
    customer = as_session["customer"]
    assert customer["discount"]["coupon"]["id"] == world.coupon
    assert customer["subscriptions"]["nodes"][0]["id"] == world.own.subscription
    assert customer["invoices"]["nodes"][0]["lines"]["totalCount"] >= 1


async def test_own_objects_by_id_and_by_list(world: World):
    own = world.own
    data = await world.ok("""query($c: ID!, $s: ID!, $i: ID!) {
        subscription(id: $s) { id } invoice(id: $i) { id }
        subscriptions(customer: $c) { nodes { id } } invoices(customer: $c, status: PAID) { nodes { id } }
        invoiceItems(customer: $c) { nodes { id } }
        upcomingInvoice(customer: $c) { total } byId: upcomingInvoice(subscription: $s) { total } }""",
                          {"c": own.customer, "s": own.subscription, "i": own.invoice})
    assert data["subscription"]["id"] == own.subscription and data["invoice"]["id"] == own.invoice
    assert [n["id"] for n in data["subscriptions"]["nodes"]] == [own.subscription]
    assert [n["id"] for n in data["invoices"]["nodes"]] == [own.invoice]
    assert [n["id"] for n in data["invoiceItems"]["nodes"]] == [own.invoice_item]
    assert data["upcomingInvoice"] == data["byId"]


async def test_other_customers_and_their_objects_are_refused(world: World):
    other = world.other
    refused = [
        ("customer(id: $x) { id }", other.customer),
        ("subscription(id: $x) { id }", other.subscription),
        ("invoice(id: $x) { id }", other.invoice),
        ("subscriptions(customer: $x) { nodes { id } }", other.customer),
        ("invoices(customer: $x) { nodes { id } }", other.customer),
        ("invoiceItems(customer: $x) { nodes { id } }", other.customer),
        ("upcomingInvoice(customer: $x) { total }", other.customer),
        ("upcomingInvoice(subscription: $x) { total }", other.subscription),
        ("node(id: $x) { id }", other.customer),
        ("node(id: $x) { id }", other.payment_method),
        ("node(id: $x) { id }", other.discount),
        ("node(id: $x) { id }", world.coupon),
        ("customer(id: $x) { id }", "cus_missing"),
        ("subscription(id: $x) { id }", "sub_missing"),
        ("invoice(id: $x) { id }", "x" * 500),
    ]
    for field, id in refused:
        await world.refused(f"query($x: ID!) {{ {field} }}", {"x": id})
    for field in ("customers { nodes { id } }", "subscriptions { nodes { id } }", "invoices { nodes { id } }",
                  "invoiceItems { nodes { id } }",
                  f'invoices(subscription: "{other.subscription}") {{ nodes {{ id }} }}',
                  "upcomingInvoice { total }", "coupons { nodes { id } }", "events { nodes { id } }",
                  "testClocks { nodes { id } }"):
        await world.refused(f"{{ {field} }}")
    # one refused field refuses the whole operation: the allowed part is not answered either
    error = await world.refused("query($c: ID!, $x: ID!) { customer(id: $c) { id } other: customer(id: $x) { id } }",
                                {"c": world.own.customer, "x": other.customer})
    assert error["extensions"]["param"] == "id"


async def test_aliases_fragments_and_variables_cannot_hide_a_field(world: World):
    own, other = world.own, world.other
    for query, variables in [
        ("query($x: ID!) { mine: customer(id: $x) { id } }", {"x": other.customer}),
        ("fragment F on Query { customer(id: $x) { id } } query($x: ID!) { ...F }", {"x": other.customer}),
        ("query($x: ID!) { ... on Query { customer(id: $x) { id } } }", {"x": other.customer}),
        ("query($c: ID!) { customer(id: $c) { ...T } } fragment T on Customer { testClock { id } }",
         {"c": own.customer}),
        ("query($c: ID!) { customer(id: $c) { ... on Customer { balanceTransactions { nodes { id } } } } }",
         {"c": own.customer}),
        ("query($c: ID!) { node(id: $c) { ... on Customer { testClock { id } } } }", {"c": own.customer}),
        ("query($c: ID!, $no: Boolean!) { customer(id: $c) { testClock @include(if: $no) { id } } }",
         {"c": own.customer, "no": False}),
        ("query($a: Boolean) { products(active: $a) { nodes { id } } }", {"a": None}),
        ("query($a: Boolean = false) { products(active: $a) { nodes { id } } }", {}),
    ]:
        await world.refused(query, variables)
    data = await world.ok("query($c: ID!) { node(id: $c) { id ... on Customer { email } } }", {"c": own.customer})
    assert data["node"]["id"] == own.customer


async def test_objects_that_lead_elsewhere_are_cut_at_the_field(world: World):
    """Own objects reference test clocks, events and usage: those fields are refused, not followed."""
    own = world.own
    for query in ("query($c: ID!) { customer(id: $c) { testClock { id } } }",
                  "query($c: ID!) { customer(id: $c) { balanceTransactions { nodes { id } } } }",
                  "query($c: ID!) { customer(id: $c) { subscriptions { nodes { testClock { id } } } } }",
                  "query($c: ID!) { customer(id: $c) { discount { coupon { timesRedeemed } } } }"):
        await world.refused(query, {"c": own.customer})


async def test_the_active_catalog_only(world: World):
    data = await world.ok("""{ products(active: true) { nodes { id prices(active: true) { nodes { id } }
        features { nodes { entitlementFeature { lookupKey } } } } }
        prices(active: true) { nodes { id } } features(active: true) { nodes { id } } }""")
    assert [p["id"] for p in data["products"]["nodes"]] == [world.product]
    assert {p["id"] for p in data["prices"]["nodes"]} == {world.price, world.other_price}
    assert [f["id"] for f in data["features"]["nodes"]] == [world.feature]
    assert data["products"]["nodes"][0]["features"]["nodes"] == [{"entitlementFeature": {"lookupKey": "sso"}}]
    for query, id in [("product(id: $x) { id }", world.archived_product),
                      ("price(id: $x) { id }", world.archived_price),
                      ("feature(id: $x) { id }", world.archived_feature),
                      ("node(id: $x) { id }", world.archived_price),
                      ("product(id: $x) { prices { nodes { id } } }", world.product),
                      ("product(id: $x) { prices(active: false) { nodes { id } } }", world.product)]:
        await world.refused(f"query($x: ID!) {{ {query} }}", {"x": id})
    for list_ in ("products", "prices", "features"):
        await world.refused(f"{{ {list_} {{ nodes {{ id }} }} }}")
        await world.refused(f"{{ {list_}(active: false) {{ nodes {{ id }} }} }}")
    node = await world.ok("query($x: ID!) { node(id: $x) { id } }", {"x": world.price})
    assert node == {"node": {"id": world.price}}


async def test_an_archived_price_stays_readable_through_the_subscription_that_uses_it(world: World):
    await world.api.ok("mutation($p: ID!) { updatePrice(id: $p, input: {active: false}) { id } }", {"p": world.price})
    data = await world.ok("query($s: ID!) { subscription(id: $s) { items { nodes { price { id active } } } } }",
                          {"s": world.own.subscription})
    assert data["subscription"]["items"]["nodes"] == [{"price": {"id": world.price, "active": False}}]
    await world.refused("query($p: ID!) { price(id: $p) { id } }", {"p": world.price})


PREVIEW = """query($s: ID!, $d: UpcomingSubscriptionDetailsInput) {
  upcomingInvoice(subscription: $s, subscriptionDetails: $d) { total lines { nodes { amount proration } } } }"""


async def test_previews_of_changes_to_active_prices(world: World):
    own = world.own
    details = {"items": [{"id": own.item, "price": world.other_price}]}
    as_key = await world.api.ok(PREVIEW, {"s": own.subscription, "d": details})
    as_session = await world.ok(PREVIEW, {"s": own.subscription, "d": details})
    assert as_session == as_key
    assert as_session["upcomingInvoice"]["total"] != (await world.ok(PREVIEW, {"s": own.subscription}))[
        "upcomingInvoice"]["total"]
    for bad, param in [({"items": [{"id": own.item, "price": world.archived_price}]},
                        "subscriptionDetails.items.0.price"),
                       ({"items": [{"price": "price_missing"}]}, "subscriptionDetails.items.0.price"),
                       ({"coupon": world.coupon}, "subscriptionDetails.coupon")]:
        error = await world.refused(PREVIEW, {"s": own.subscription, "d": bad})
        assert error["extensions"]["param"] == param
    await world.refused(PREVIEW, {"s": world.other.subscription, "d": {"items": [{"id": world.other.item,
                                                                                   "price": world.other_price}]}})
    # a preview changes nothing
    sub = await world.api.ok("query($s: ID!) { subscription(id: $s) { items { nodes { price { id } } } } }",
                             {"s": own.subscription})
    assert sub["subscription"]["items"]["nodes"] == [{"price": {"id": world.price}}]
