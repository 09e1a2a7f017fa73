"""The read cache of catalog queries: served only while subscribed to the events, invalidated by them."""
import asyncio
import logging
import tempfile
from contextlib import contextmanager

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from graphql import parse

from app import keys, live_bus, outbox
from app.billing import products
from app.billing.events import atomic
from app.config import Settings
from app.graphql.read_cache import CATALOG_TYPES, is_catalog_read
from app.graphql.schema import schema
from app.http import READ_CACHE, create_app
from app.redis import EmbeddedRedis, connect
from tests.conftest import Api

PRODUCTS = "query($n: Int) { products(first: $n) { nodes { id name prices { nodes { id product { name } } } } } }"
CREATE = 'mutation { createProduct(input: {name: "Old"}) { id } }'


@contextmanager
def sql_statements():
    """The SQL statements run inside the block (the API key's lookup aside)."""
    statements: list[str] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg == "%s: %s" and "api_keys" not in record.args[0]:
                statements.append(record.args[0])

    logger, handler = logging.getLogger("tortoise.db_client"), Handler(logging.DEBUG)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def until(condition, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


class Cached:
    """The API on a Redis server of its own (Redis channels are server-wide: other processes' catalog
    events would clear this cache at random), which a test may stop and start again."""

    def __init__(self, api: Api, server: EmbeddedRedis, redis) -> None:
        self.api, self.server, self.redis = api, server, redis
        self.cache = api.client.app[READ_CACHE]

    async def live(self) -> None:
        await until(lambda: self.cache.live)

    async def read(self, query: str = PRODUCTS, variables: dict | None = None, **kwargs) -> tuple[dict, int]:
        """The data and the number of SQL statements it took."""
        with sql_statements() as sql:
            data = await self.api.ok(query, variables or {"n": 5}, **kwargs)
        return data, len(sql)


@pytest_asyncio.fixture
async def cached(db):
    with tempfile.TemporaryDirectory() as data_dir:
        server = EmbeddedRedis(data_dir)
        url = server.start()
        redis = connect(url)
        try:
            app = create_app(Settings(), url, manage_db=False)
            secret = keys.generate()
            await keys.store(secret, name="test")
            async with TestClient(TestServer(app)) as client:
                api = Api(client, secret)
                await api.ok(CREATE)
                yield Cached(api, server, redis)
        finally:
            await redis.aclose()
            server.stop()


async def test_a_catalog_read_is_executed_once(cached):
    await cached.live()
    first, ran = await cached.read()
    assert ran > 0 and first["products"]["nodes"][0]["name"] == "Old"
    assert await cached.read() == (first, 0)
    # Variables and the API key are part of the key.
    assert (await cached.read(variables={"n": 4}))[1] > 0
    other = keys.generate()
    await keys.store(other, name="other")
    assert (await cached.read(secret=other))[1] > 0


async def test_identical_reads_at_the_same_time_run_once(cached):
    await cached.live()
    alone = (await cached.read(variables={"n": 4}))[1]
    with sql_statements() as sql:
        answers = await asyncio.gather(*(cached.api.ok(PRODUCTS, {"n": 3}) for _ in range(5)))
    assert len(sql) == alone and all(answer == answers[0] for answer in answers)


async def test_own_mutation_is_read_at_once(cached):
    await cached.live()
    old, _ = await cached.read()
    product = old["products"]["nodes"][0]["id"]
    await cached.api.ok('mutation($id: ID!) { updateProduct(id: $id, input: {name: "New"}) { id } }',
                        {"id": product})
    data, ran = await cached.read()
    assert ran > 0 and data["products"]["nodes"][0]["name"] == "New"


async def test_an_event_from_another_process_invalidates(cached):
    await cached.live()
    old, _ = await cached.read()
    async with atomic() as uow:  # what another API process does: commit, then publish
        await products.update_product(old["products"]["nodes"][0]["id"], {"name": "New"})
    data, ran = await cached.read()
    assert (data["products"]["nodes"][0]["name"], ran) == ("Old", 0)  # not published yet: still cached
    generation = cached.cache.generation
    await outbox.dispatch(cached.redis, uow.events)
    await until(lambda: cached.cache.generation > generation)
    data, ran = await cached.read()
    assert ran > 0 and data["products"]["nodes"][0]["name"] == "New"


async def test_other_events_keep_the_cache(cached):
    await cached.live()
    await cached.read()
    generation = cached.cache.generation
    await cached.redis.publish(outbox.channel(cached.redis), '{"type": "customer.created"}')
    await cached.redis.publish(outbox.channel(cached.redis), '{"type": "price.updated"}')
    await until(lambda: cached.cache.generation > generation)
    assert cached.cache.generation == generation + 1


async def test_answers_with_errors_are_not_cached(cached):
    await cached.live()
    query = "{ products(first: 1) { nodes { id prices(first: 101) { nodes { id } } } } }"
    for _ in range(2):
        with sql_statements() as sql:
            status, body = await cached.api.post(query)
        assert body["errors"][0]["extensions"]["param"] == "first" and len(sql) > 0


async def test_a_lost_subscription_turns_the_cache_off(cached):
    await cached.live()
    await cached.read()
    assert (await cached.read())[1] == 0
    await asyncio.to_thread(cached.server.stop)
    await until(lambda: not cached.cache.live)
    assert (await cached.read())[1] > 0  # events could be missed now: every read runs
    assert (await cached.read())[1] > 0
    await asyncio.to_thread(cached.server.start)  # the same port: the subscriber comes back
    await cached.live()
    await cached.read()
    assert (await cached.read())[1] == 0


async def test_a_silent_redis_turns_the_cache_off(cached, monkeypatch):
    monkeypatch.setattr(live_bus, "HEARTBEAT", 0.1)
    monkeypatch.setattr(live_bus, "DEAD_AFTER", 0.5)
    await cached.live()
    await cached.read()
    await cached.redis.execute_command("CLIENT", "PAUSE", 3000, "ALL")  # no answers, and no error either
    await until(lambda: not cached.cache.live, seconds=2.5)
    assert (await cached.read())[1] > 0


@pytest.mark.parametrize(("query", "cacheable"), [
    (PRODUCTS, True),
    ("query A { price(id: \"price_1\") { __typename tiers { upTo } recurring { interval } } }", True),
    ("{ features { nodes { id } } } fragment F on Product { features { nodes { entitlementFeature { id } } } }",
     True),
    ("{ products { nodes { id } } customers { nodes { id } } }", False),
    ("{ customers { nodes { id } } }", False),
    ('{ node(id: "prod_1") { id ... on Product { name } } }', False),
    ("{ __typename products { nodes { id } } }", True),
    ("{ products { nodes { id } } __schema { types { name } } }", False),
    ('mutation { createProduct(input: {name: "x"}) { id } }', False),
    ("query A { products { nodes { id } } } mutation B { deleteProduct(id: \"prod_1\") { id } }", False),
])
def test_only_catalog_queries_are_cacheable(query, cacheable):
    assert is_catalog_read(schema._schema, query) is cacheable


def test_cacheable_types_read_catalog_rows_only():
    """A field added to a cacheable type must read catalog rows only (or the type must leave CATALOG_TYPES)."""
    fields = {name: sorted(schema._schema.type_map[name].fields) for name in sorted(CATALOG_TYPES)}
    assert fields == {
        "Feature": ["active", "created", "id", "lookupKey", "metadata", "name"],
        "FeatureConnection": ["edges", "nodes", "pageInfo"],
        "FeatureEdge": ["cursor", "node"],
        "PageInfo": ["endCursor", "hasNextPage", "hasPreviousPage", "startCursor"],
        "Price": ["active", "billingScheme", "created", "currency", "id", "lookupKey", "metadata", "nickname",
                  "product", "recurring", "tiers", "tiersMode", "transformQuantity", "type", "unitAmount",
                  "unitAmountDecimal"],
        "PriceConnection": ["edges", "nodes", "pageInfo"],
        "PriceEdge": ["cursor", "node"],
        "PriceTier": ["flatAmount", "flatAmountDecimal", "unitAmount", "unitAmountDecimal", "upTo"],
        "Product": ["active", "created", "defaultPrice", "deleted", "description", "features", "id", "metadata",
                    "name", "prices", "updated"],
        "ProductConnection": ["edges", "nodes", "pageInfo"],
        "ProductEdge": ["cursor", "node"],
        "ProductFeature": ["entitlementFeature", "id", "product"],
        "ProductFeatureConnection": ["edges", "nodes", "pageInfo"],
        "ProductFeatureEdge": ["cursor", "node"],
        "Recurring": ["aggregateUsage", "interval", "intervalCount", "meter", "usageType"],
        "TransformQuantity": ["divideBy", "round"],
    }
    # Recurring.meter leads to a Meter, not a catalog type (deactivation sends no catalog event): not cached.
    assert not is_catalog_read(schema._schema, "{ prices { nodes { recurring { meter { status } } } } }")
    assert parse(PRODUCTS)  # the query above is valid GraphQL
