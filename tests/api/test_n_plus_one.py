"""Lists cost a constant number of SQL queries, and nested pages are cut per parent in SQL.

Queries are counted from the "tortoise.db_client" logger, which both backends (aiosqlite, asyncpg)
call with every statement they run: real SQL, nothing mocked.
"""
import base64
import logging
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from app.ids import new_id
from app.models.catalog import Feature, Price, Product, ProductFeature
from app.models.coupons import Coupon, Discount
from app.models.customers import Customer

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sql: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # "<sql>: <params>", logged by every execute_* method; the API key's lookup is cached for seconds
        if record.msg == "%s: %s" and "api_keys" not in record.args[0]:
            self.sql.append(record.args[0])


@contextmanager
def sql_statements():
    """The SQL statements run inside the block."""
    logger = logging.getLogger("tortoise.db_client")
    handler, level = _Statements(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.sql
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def _catalog(products: int, prices: int, features: int, start: int = 0) -> list[str]:
    """`products` products, each with `prices` prices and `features` features; ids newest first."""
    ids = []
    for i in range(start, start + products):
        created = T0 + timedelta(minutes=i)
        product = await Product.create(id=new_id("prod"), name=f"P{i}", created=created, updated=created)
        await Price.bulk_create([
            Price(id=new_id("price"), product=product, currency="usd", type="one_time", unit_amount=100 * j,
                  created=created + timedelta(seconds=j))
            for j in range(prices)
        ])
        for j in range(features):
            feature = await Feature.create(id=new_id("feat"), name=f"F{i}.{j}", lookup_key=f"f{i}_{j}",
                                           created=created)
            await ProductFeature.create(id=new_id("prodft"), product=product, feature=feature,
                                        created=created + timedelta(seconds=j))
        ids.append(product.id)
    return ids[::-1]


CATALOG = """query($n: Int) {
  products(first: $n) {
    nodes {
      id name
      prices { nodes { id unitAmount product { id } } }
      features { nodes { id entitlementFeature { id lookupKey } } }
    }
  }
}"""


async def test_a_page_of_50_products_costs_the_same_queries_as_a_page_of_5(api):
    await _catalog(50, prices=3, features=2)
    counts = {}
    for n in (5, 50):
        with sql_statements() as sql:
            data = await api.ok(CATALOG, {"n": n})
        nodes = data["products"]["nodes"]
        assert len(nodes) == n
        assert all(len(p["prices"]["nodes"]) == 3 and len(p["features"]["nodes"]) == 2 for p in nodes)
        assert all(price["product"]["id"] == p["id"] for p in nodes for price in p["prices"]["nodes"])
        assert all(f["entitlementFeature"]["lookupKey"].startswith("f") for p in nodes for f in p["features"]["nodes"])
        counts[n] = len(sql)
    # One statement each: the products, their prices, the prices' product, the product features and
    # their entitlement features.
    assert counts[5] == counts[50] == 5, counts


PAGED = """query($after: String) {
  products {
    nodes {
      id
      prices(first: 10, after: $after) { pageInfo { hasNextPage hasPreviousPage endCursor } nodes { id } }
    }
  }
}"""


async def test_nested_pages_are_cut_per_parent_in_sql(api):
    a, = await _catalog(1, prices=15, features=0)
    b, = await _catalog(1, prices=2, features=0, start=1)
    expected = {p: [x.id for x in await Price.filter(product_id=p).order_by("-created", "-id")] for p in (a, b)}

    with sql_statements() as sql:
        data = await api.ok(PAGED)
    pages = {p["id"]: p["prices"] for p in data["products"]["nodes"]}
    assert [n["id"] for n in pages[a]["nodes"]] == expected[a][:10]
    assert pages[a]["pageInfo"]["hasNextPage"] is True
    assert [n["id"] for n in pages[b]["nodes"]] == expected[b]
    assert pages[b]["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": False,
                                    "endCursor": pages[b]["pageInfo"]["endCursor"]}
    [prices_sql] = [s for s in sql if 'FROM "prices"' in s]
    assert "ROW_NUMBER() OVER (PARTITION BY" in prices_sql and '"row_number" <= 11' in prices_sql

    after = pages[a]["pageInfo"]["endCursor"]
    rest = await api.ok("""query($id: ID!, $after: String) {
      product(id: $id) { prices(first: 10, after: $after) { pageInfo { hasNextPage hasPreviousPage } nodes { id } } }
    }""", {"id": a, "after": after})
    assert [n["id"] for n in rest["product"]["prices"]["nodes"]] == expected[a][10:]
    assert rest["product"]["prices"]["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}


async def test_different_cursors_in_one_batch_page_each_parent(api):
    """Aliases with their own `after` share the batch but not the page."""
    a, = await _catalog(1, prices=4, features=0)
    ids = [x.id for x in await Price.filter(product_id=a).order_by("-created", "-id")]
    first = await api.ok("query($id: ID!) { product(id: $id) { prices(first: 1) { pageInfo { endCursor } } } }",
                         {"id": a})
    cursor = first["product"]["prices"]["pageInfo"]["endCursor"]
    data = await api.ok("""query($id: ID!, $c: String) {
      x: product(id: $id) { prices(first: 2) { nodes { id } } }
      y: product(id: $id) { prices(first: 2, after: $c) { nodes { id } } }
    }""", {"id": a, "c": cursor})
    assert [n["id"] for n in data["x"]["prices"]["nodes"]] == ids[:2]
    assert [n["id"] for n in data["y"]["prices"]["nodes"]] == ids[1:3]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "2024-01-01T00:00:00|price_1"])  # garbage; no time zone
async def test_a_bad_cursor_fails_its_field_only(api, cursor):
    a, = await _catalog(1, prices=1, features=0)
    status, body = await api.post("""query($id: ID!, $after: String) {
      good: product(id: $id) { prices { nodes { id } } }
      bad: product(id: $id) { prices(after: $after) { nodes { id } } }
    }""", {"id": a, "after": base64.urlsafe_b64encode(cursor.encode()).decode()})
    assert status == 200
    assert len(body["data"]["good"]["prices"]["nodes"]) == 1
    assert body["data"]["bad"] is None
    [error] = body["errors"]
    assert error["extensions"]["param"] == "after" and error["path"] == ["bad", "prices"]


async def test_each_customers_discount_is_one_query_for_the_page(api):
    """customer.discount: the customer's own discount that has not ended, even when newer ones do not count."""
    coupon = await Coupon.create(id="half", percent_off=50, duration="forever")
    expected = {}
    for i in range(12):
        created = T0 + timedelta(minutes=i)
        customer = await Customer.create(id=new_id("cus"), invoice_prefix=f"PFX{i:04d}", created=created)
        expected[customer.id] = None
        if i % 3 == 0:
            continue
        for j, (subscription, ended) in enumerate([(None, None), ("sub_1", None), (None, created)]):
            discount = await Discount.create(id=new_id("di"), coupon=coupon, customer=customer, start=created,
                                             subscription_id=subscription, ended_at=ended,
                                             created=created + timedelta(seconds=j))
            expected[customer.id] = expected[customer.id] or discount.id

    query = "query($n: Int) { customers(first: $n) { nodes { id discount { id coupon { id } } } } }"
    counts = {}
    for n in (3, 12):
        with sql_statements() as sql:
            data = await api.ok(query, {"n": n})
        nodes = data["customers"]["nodes"]
        assert len(nodes) == n
        assert {c["id"]: c["discount"] and c["discount"]["id"] for c in nodes} == {
            c["id"]: expected[c["id"]] for c in nodes}
        counts[n] = len(sql)
    # The customers, their discounts, the discounts' coupons.
    assert counts[3] == counts[12] == 3, counts
