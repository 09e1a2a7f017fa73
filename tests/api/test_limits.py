"""Request limits: query cost, depth, page size and aliases, all refused before anything runs."""
import logging

import pytest
from graphql import parse

from app.graphql.limits import MAX_COST, query_cost
from app.graphql.schema import schema

PAGE_OF_PAGES = "{ products(first: 100) { nodes { id prices(first: 100) { nodes { id } } } } }"
# 1 + 100 (nodes) + 100 (prices) + 100*100 (their nodes) + 100*100 (product) + 100*100 (prices)
# + 100*100*100 (their nodes)
TOO_WIDE = """query Wide($n: Int = 100) {
  products(first: $n) { nodes { prices(first: 100) { nodes { product { prices(first: 100) { nodes { id } } } } } } }
}"""
TOO_WIDE_COST = 1_030_201


def cost(query: str, variables: dict | None = None, operation_name: str | None = None) -> int:
    return query_cost(schema._schema, parse(query), variables, operation_name)


def statements(caplog) -> list[str]:
    """The SQL statements run since caplog was last cleared."""
    return [r.args[0] for r in caplog.records if r.name == "tortoise.db_client" and r.msg == "%s: %s"]


@pytest.mark.parametrize(("query", "expected"), [
    (PAGE_OF_PAGES, 1 + 100 + 100 + 100 * 100),
    ("{ products { nodes { id } } }", 1 + 10),  # first defaults to 10
    ("{ products(first: 0) { nodes { id } pageInfo { hasNextPage } } }", 1),  # fields under it times 0
    ("{ products(first: 5000) { nodes { id } } }", 1 + 100),  # refused by the resolver with param first
    ("{ product(id: \"prod_1\") { id name } }", 1),
    ("{ a: products(first: 3) { nodes { id } } b: products(first: 4) { nodes { id } } }", 1 + 3 + 1 + 4),
    (TOO_WIDE, TOO_WIDE_COST),
])
def test_cost_is_the_rows_a_query_can_touch(query, expected):
    assert cost(query) == expected


def test_cost_resolves_variables_defaults_and_fragments():
    assert cost(TOO_WIDE, {"n": 1}) == 1 + 1 + 1 + 100 + 100 + 100 + 100 * 100
    assert cost(TOO_WIDE, {"n": None}) == cost(TOO_WIDE, {"n": 10})
    named = """query($n: Int!) { products(first: $n) { ...P } }
      fragment P on ProductConnection { nodes { prices(first: 7) { nodes { id } } } }"""
    assert cost(named, {"n": 3}) == 1 + 3 + 3 + 21
    inline = """query($id: ID!) { node(id: $id) {
      ... on Product { prices(first: 20) { nodes { id } } }
      ... on Price { product { name } }
    } }"""
    assert cost(inline, {"id": "prod_1"}) == 1 + (1 + 20) + 1
    two = "query A { products(first: 2) { nodes { id } } } query B { products(first: 9) { nodes { id } } }"
    assert (cost(two, operation_name="A"), cost(two, operation_name="B")) == (3, 10)


async def test_a_query_over_the_cost_limit_is_refused_before_it_runs(api, caplog):
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    caplog.clear()
    status, body = await api.post(TOO_WIDE)
    assert status == 200 and body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "query_too_complex", "type": "invalid_request_error", "param": None}
    assert str(TOO_WIDE_COST) in error["message"] and str(MAX_COST) in error["message"]
    # Only the API key was read: no resolver ran.
    assert [s for s in statements(caplog) if "api_keys" not in s] == []

    # The same document with a small page is cheap: the cost follows the variables, not a cache.
    data = await api.ok(TOO_WIDE, {"n": 1})
    assert data == {"products": {"nodes": []}}
    assert (await api.error(TOO_WIDE, {"n": 100}))["extensions"]["code"] == "query_too_complex"


async def test_a_page_of_100_products_with_100_prices_each_is_allowed(api):
    assert cost(PAGE_OF_PAGES) <= MAX_COST
    assert await api.ok(PAGE_OF_PAGES) == {"products": {"nodes": []}}


async def test_a_fragment_counts_towards_the_cost(api):
    error = await api.error("""query { products(first: 100) { ...Deep } }
      fragment Deep on ProductConnection {
        nodes { prices(first: 100) { nodes { ... on Price { product { prices(first: 100) { nodes { id } } } } } } }
      }""")
    assert error["extensions"]["code"] == "query_too_complex"


async def test_a_query_deeper_than_10_is_refused(api):
    # The root field is at depth 0: `id` in "id" is at depth 10, in "product { id }" at 11.
    query = ("{ products { nodes { prices { nodes { product { prices { nodes { product { prices { nodes { %s }"
             " } } } } } } } } } }")
    assert await api.ok(query % "id") == {"products": {"nodes": []}}
    error = await api.error(query % "product { id }")
    assert error["extensions"]["type"] == "invalid_request_error"
    assert "exceeds maximum operation depth of 10" in error["message"]


@pytest.mark.parametrize("query", [
    "{ products(first: 101) { nodes { id } } }",
    "{ products(first: -1) { nodes { id } } }",
    'query($id: ID!) { product(id: $id) { prices(first: 101) { nodes { id } } } }',
    "{ products(first: 1) { nodes { features(first: 101) { nodes { id } } } } }",
])
async def test_a_page_is_at_most_100(api, query):
    product = (await api.ok('mutation { createProduct(input: {name: "P"}) { id } }'))["createProduct"]
    error = await api.error(query, {"id": product["id"]})
    assert error["extensions"] == {"code": "parameter_invalid", "type": "invalid_request_error", "param": "first"}


async def test_too_many_aliases_are_refused(api):
    many = "{ " + " ".join(f"p{i}: products(first: 1) {{ nodes {{ id }} }}" for i in range(31)) + " }"
    error = await api.error(many)
    assert error["extensions"]["type"] == "invalid_request_error"
    assert "aliases" in error["message"]
