"""DataLoaders, created per request (and per live-update message): a list of N objects costs a
constant number of SQL queries, whatever N is."""
from collections import defaultdict
from collections.abc import Hashable

from strawberry.dataloader import DataLoader
from tortoise.expressions import RawSQL
from tortoise.functions import Count
from tortoise.models import Model

from app.graphql.pagination import NEWEST_FIRST, Connection, Order, after_filter, connection, page_size


def _by_id_loader(model: type[Model]) -> DataLoader:
    async def load(ids: list[str]) -> list[Model | None]:
        found = {obj.id: obj for obj in await model.filter(id__in=list(set(ids)))}
        return [found.get(id) for id in ids]

    return DataLoader(load_fn=load)


async def _first_children(model: type[Model], parent_column: str, parent_ids: list[str], filters: dict,
                          after: str | None, limit: int, order: Order = NEWEST_FIRST) -> list[Model]:
    """The first `limit` children of each parent (after the cursor), in `order`, in one query.

    The ORM cannot filter on ROW_NUMBER() OVER (PARTITION BY ...), so the filtered ORM query is
    wrapped in SQL that keeps the first rows of each partition.
    """
    query = model.filter(**{f"{parent_column}__in": parent_ids}, **filters)
    keyset = after_filter(after, order)
    if keyset is not None:
        query = query.filter(keyset)
    table = model._meta.db_table
    query = query.annotate(row_number=RawSQL(
        f'ROW_NUMBER() OVER (PARTITION BY "{table}"."{parent_column}" ORDER BY {order.sql(table)})'))
    query._choose_db_if_not_chosen()
    query._make_query()
    inner, params = query.query.get_parameterized_sql()
    sql = (f'SELECT * FROM ({inner}) AS "ranked" WHERE "row_number" <= {int(limit)} '
           f'ORDER BY {order.sql("ranked")}')
    return await query._db.executor_class(model=model, db=query._db).execute_select(sql, params)


def _one_child_loader(model: type[Model], parent_column: str, filters: dict) -> DataLoader:
    """The newest child of each parent matching `filters` (e.g. a customer's active discount)."""

    async def load(parent_ids: list[str]) -> list[Model | None]:
        rows = await _first_children(model, parent_column, list(set(parent_ids)), filters, None, 1)
        found = {getattr(row, parent_column): row for row in rows}
        return [found.get(id) for id in parent_ids]

    return DataLoader(load_fn=load)


def _child_page_loader(model: type[Model], parent_column: str, filters: dict, order: Order) -> DataLoader:
    """Keys are (parent_id, size, after); one query per distinct (size, after) in a batch."""

    async def load(keys: list[tuple[str, int, str | None]]) -> list[Connection]:
        groups: dict[tuple, list[str]] = defaultdict(list)
        for parent_id, size, after in keys:
            groups[(size, after)].append(parent_id)
        pages: dict[tuple, Connection] = {}
        for (size, after), parent_ids in groups.items():
            children: dict[str, list] = defaultdict(list)
            for row in await _first_children(model, parent_column, parent_ids, filters, after, size + 1, order):
                children[getattr(row, parent_column)].append(row)
            for parent_id in parent_ids:
                pages[(parent_id, size, after)] = connection(children[parent_id], size, after is not None, order)
        return [pages[key] for key in keys]

    return DataLoader(load_fn=load)


def _count_loader(model: type[Model], parent_column: str, filters: dict) -> DataLoader:
    async def load(parent_ids: list[str]) -> list[int]:
        rows = await model.filter(**{f"{parent_column}__in": list(set(parent_ids))}, **filters) \
            .annotate(n=Count("id")).group_by(parent_column).values_list(parent_column, "n")
        counts = dict(rows)
        return [counts.get(id, 0) for id in parent_ids]

    return DataLoader(load_fn=load)


class Loaders:
    """One DataLoader per model (by id) and per relation (pages of children)."""

    def __init__(self) -> None:
        self._loaders: dict[Hashable, DataLoader] = {}

    def by_id(self, model: type[Model]) -> DataLoader:
        key = ("id", model)
        if key not in self._loaders:
            self._loaders[key] = _by_id_loader(model)
        return self._loaders[key]

    def children(self, model: type[Model], parent_column: str, order: Order = NEWEST_FIRST,
                 **filters) -> DataLoader:
        key = ("children", model, parent_column, order, tuple(sorted(filters.items())))
        if key not in self._loaders:
            self._loaders[key] = _child_page_loader(model, parent_column, filters, order)
        return self._loaders[key]

    def one_child(self, model: type[Model], parent_column: str, **filters) -> DataLoader:
        key = ("one", model, parent_column, tuple(sorted(filters.items())))
        if key not in self._loaders:
            self._loaders[key] = _one_child_loader(model, parent_column, filters)
        return self._loaders[key]

    async def load(self, model: type[Model], id: str | None):
        return None if id is None else await self.by_id(model).load(id)

    async def page(self, model: type[Model], parent_column: str, parent_id: str, first: int | None,
                   after: str | None, order: Order = NEWEST_FIRST, **filters) -> Connection:
        size = page_size(first)
        after_filter(after, order)  # a bad cursor fails this field alone, not the whole batch
        return await self.children(model, parent_column, order, **filters).load((parent_id, size, after))

    def count(self, model: type[Model], parent_column: str, **filters) -> DataLoader:
        """How many children each parent has."""
        key = ("count", model, parent_column, tuple(sorted(filters.items())))
        if key not in self._loaders:
            self._loaders[key] = _count_loader(model, parent_column, filters)
        return self._loaders[key]
