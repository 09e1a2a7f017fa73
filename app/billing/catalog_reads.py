"""Prices and product names as billing reads them, remembered within a `remembered()` block.

The cycle opens one per chunk and `preload`s the prices of all its subscriptions in two queries, so
building each invoice reads no catalog row itself. Outside a block every read goes to the database.
"""
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from app.models.catalog import Price, Product

_memo: ContextVar[dict | None] = ContextVar("catalog_reads", default=None)


@contextmanager
def remembered() -> Iterator[None]:
    token = _memo.set({"prices": {}, "names": {}})
    try:
        yield
    finally:
        _memo.reset(token)


async def preload(price_ids: Iterable[str]) -> None:
    """Read these prices and their products' names at once (only inside `remembered()`)."""
    memo = _memo.get()
    missing = set(price_ids) - memo["prices"].keys() if memo is not None else set()
    if not missing:
        return
    loaded = await Price.filter(id__in=missing)
    memo["prices"].update((p.id, p) for p in loaded)
    products = {p.product_id for p in loaded} - memo["names"].keys()
    if products:
        memo["names"].update(await Product.filter(id__in=products).values_list("id", "name"))


async def prices(price_ids: Iterable[str]) -> dict[str, Price]:
    """These prices by id: remembered ones from memory, the others in one query."""
    memo = _memo.get()
    wanted = set(price_ids)
    found = {i: memo["prices"][i] for i in wanted if i in memo["prices"]} if memo is not None else {}
    missing = wanted - found.keys()
    if missing:
        found.update((p.id, p) for p in await Price.filter(id__in=missing))
    return found


async def price(price_id: str) -> Price:
    memo = _memo.get()
    if memo is not None and price_id in memo["prices"]:
        return memo["prices"][price_id]
    return await Price.get(id=price_id)


async def product_name(product_id: str) -> str | None:
    memo = _memo.get()
    if memo is not None and product_id in memo["names"]:
        return memo["names"][product_id]
    return await Product.filter(id=product_id).first().values_list("name", flat=True)
