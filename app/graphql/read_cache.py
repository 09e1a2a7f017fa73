"""An in-process cache of catalog reads: the result of a query that selects only catalog fields, keyed by
(principal's cache scope, document, operation name, variables), so repeated catalog pages skip execution.
The scope is the API key, or all customer sessions together: a session's answer is never a key's.

It stays correct through invalidation. Every catalog change records an event (product.*, price.*,
entitlements.feature.*, product_feature.*) that is published on Redis after its commit (app/outbox.py);
each API process subscribes to that channel and clears its whole cache on any catalog event. A process
also clears it when its own mutation dispatches one, before the mutation answers, so a client reads its
own writes there. Another process sees a change once its subscriber has read the event, normally within
a millisecond of the publish. A result whose execution overlapped an invalidation is not stored.
Identical reads that miss at the same time (after an invalidation, say) run once: the others wait for
that result, and run themselves only if it is not one the cache would store.

The process's one subscription is app/live_bus.py's, which tells this cache when it is confirmed and when it
is lost. Nothing is served from or stored in the cache unless the subscription is confirmed: not before it is,
not after it drops, and not when Redis has not answered for a while (the bus pings it); the cache is emptied
each time. Entries also expire after BILLING_READ_CACHE_SECONDS
(30; 0 turns the cache off), which bounds staleness from changes that bypass the API or its events.

Only the types and root fields listed below are cacheable: a field added to them must read catalog rows
only (tests/api/test_read_cache.py pins their fields).
"""
import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache

from graphql import (
    ExecutionResult,
    GraphQLSchema,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    is_leaf_type,
    parse,
    visit,
)
from prometheus_client import Counter
from strawberry.extensions import SchemaExtension

CATALOG_EVENTS = ("product.", "price.", "entitlements.feature.", "product_feature.")
ROOT_FIELDS = frozenset({"product", "products", "price", "prices", "feature", "features"})
CATALOG_TYPES = frozenset({
    "Product", "ProductConnection", "ProductEdge", "Price", "PriceConnection", "PriceEdge", "PriceTier",
    "Recurring", "TransformQuantity", "Feature", "FeatureConnection", "FeatureEdge", "ProductFeature",
    "ProductFeatureConnection", "ProductFeatureEdge", "PageInfo",
})
ENTRIES = 64  # a page of 100 products with every field is about 0.7 MB of Python objects
DOCUMENTS = 512
LOOKUPS = Counter("billing_read_cache_lookups_total", "Catalog reads looked up in the read cache", ["result"])
HITS, MISSES = LOOKUPS.labels("hit"), LOOKUPS.labels("miss")


class _CatalogOnly(Visitor):
    def __init__(self, schema: GraphQLSchema, type_info: TypeInfo) -> None:
        super().__init__()
        self.schema = schema
        self.type_info = type_info
        self.cacheable = True

    def enter_operation_definition(self, node, *_) -> None:
        if node.operation != OperationType.QUERY:
            self.cacheable = False

    def enter_field(self, node, *_) -> None:
        name = node.name.value
        if name == "__typename":
            return
        parent = self.type_info.get_parent_type()
        returns = get_named_type(self.type_info.get_type())
        if parent is self.schema.query_type:
            allowed = name in ROOT_FIELDS
        else:
            allowed = parent is not None and parent.name in CATALOG_TYPES
        if not allowed or returns is None or not (is_leaf_type(returns) or returns.name in CATALOG_TYPES):
            self.cacheable = False


@lru_cache(maxsize=DOCUMENTS)
def is_catalog_read(schema: GraphQLSchema, query: str) -> bool:
    """Whether every operation in the (valid) document is a query of catalog fields only."""
    type_info = TypeInfo(schema)
    check = _CatalogOnly(schema, type_info)
    visit(parse(query), TypeInfoVisitor(type_info, check))
    return check.cacheable


class ReadCache:
    """The results of catalog reads, for at most `max_age` seconds, while `live`."""

    def __init__(self, max_age: float, size: int = ENTRIES) -> None:
        self.max_age = max_age
        self.size = size
        self.live = False
        self.generation = 0  # bumped by every invalidation
        self._entries: OrderedDict[tuple, tuple[float, ExecutionResult]] = OrderedDict()
        self._running: dict[tuple, asyncio.Future] = {}  # reads being executed since the last invalidation

    def get(self, key: tuple) -> ExecutionResult | None:
        entry = self._entries.get(key) if self.live else None
        if entry is None or entry[0] <= time.monotonic():
            return None
        self._entries.move_to_end(key)
        return entry[1]

    async def lookup(self, key: tuple) -> ExecutionResult | None:
        """The cached result, or that of the same read running now (None when it is not to be shared)."""
        result = self.get(key)
        if result is None and (running := self._running.get(key)) is not None:
            result = await asyncio.shield(running)
        return result

    @contextmanager
    def computing(self, key: tuple) -> Iterator[Callable[[ExecutionResult], None]]:
        """Run a read whose result is then given to `store`: it is cached and handed to the identical reads
        that waited for it, unless it has errors or an invalidation came in meanwhile."""
        generation, future = self.generation, asyncio.get_running_loop().create_future()
        self._running[key] = future
        computed: list[ExecutionResult] = []
        try:
            yield computed.append
        finally:
            if self._running.get(key) is future:
                del self._running[key]
            result = computed[0] if computed else None
            fresh = result is not None and not result.errors and self.live and generation == self.generation
            if fresh:
                self._put(key, result)
            future.set_result(result if fresh else None)

    def _put(self, key: tuple, result: ExecutionResult) -> None:
        self._entries[key] = (time.monotonic() + self.max_age, result)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self._running.clear()
        self.generation += 1

    def saw(self, event_types: Iterable[str]) -> None:
        """Invalidate on any catalog event, or one whose type could not be read ("")."""
        if any(not type or type.startswith(CATALOG_EVENTS) for type in event_types):
            self.clear()

    # ---------------------------------------------------------------- as a listener of the live bus

    def connected(self) -> None:
        """The subscription to events is confirmed: from now on, no catalog event is missed."""
        self.clear()
        self.live = True

    def lost(self) -> None:
        self.live = False
        self.clear()


def _variables(variables: dict | None) -> str | None:
    try:
        return json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None


class CachedCatalogReads(SchemaExtension):
    """Serves a catalog read from the request context's ReadCache, or stores its result (when error-free).
    Runs after the other limits: a refused operation never reaches the cache."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        cache: ReadCache | None = getattr(context.context, "read_cache", None)
        key = self._key(cache)
        if key is None:
            yield
            return
        if (hit := await cache.lookup(key)) is not None:
            HITS.inc()
            context.result = hit
            yield
            return
        MISSES.inc()
        with cache.computing(key) as store:
            yield
            if isinstance(context.result, ExecutionResult):
                store(context.result)

    def _key(self, cache: ReadCache | None) -> tuple | None:
        context = self.execution_context
        if cache is None or not cache.live or context.result is not None or context.query is None \
                or not is_catalog_read(context.schema._schema, context.query):
            return None
        variables = _variables(context.variables)
        principal = getattr(context.context, "principal", None)
        return None if variables is None else (getattr(principal, "cache_scope", None), context.query,
                                               context.operation_name, variables)
