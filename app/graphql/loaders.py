"""DataLoaders, created per request (and per live-update message): a list of N objects costs a
constant number of SQL queries, whatever N is."""
from collections import defaultdict
from collections.abc import Hashable

from strawberry.dataloader import DataLoader
from tortoise import Tortoise
from tortoise.expressions import RawSQL
from tortoise.models import Model

from app.graphql.pagination import Connection, after_filter, connection, page_size


def _by_id_loader(model: type[Model]) -> DataLoader:
    async def load(ids: list[str]) -> list[Model | None]:
        found = {obj.id: obj for obj in await model.filter(id__in=list(set(ids)))}
        return [found.get(id) for id in ids]

    return DataLoader(load_fn=load)


async def _page_ids(model: type[Model], parent_column: str, parent_ids: list[str], filters: dict,
                    after: str | None, limit: int) -> list[str]:
    """Ids of the first `limit` children of each parent, newest first, in one query.

    The ORM cannot say ROW_NUMBER() OVER (PARTITION BY ...), so the filtered ORM query is wrapped
    in SQL that keeps the first rows of each partition.
    """
    query = model.filter(**{f"{parent_column}__in": parent_ids}, **filters)
    keyset = after_filter(after)
    if keyset is not None:
        query = query.filter(keyset)
    query = query.annotate(
        row_number=RawSQL(f'ROW_NUMBER() OVER (PARTITION BY "{parent_column}" ORDER BY "created" DESC, "id" DESC)')
    ).values("id", "row_number")
    query._choose_db_if_not_chosen()
    query._make_query()
    inner, params = query.query.get_parameterized_sql()
    sql = f'SELECT "id" FROM ({inner}) AS ranked WHERE "row_number" <= {int(limit)}'
    rows = await Tortoise.get_connection("default").execute_query_dict(sql, params)
    return [row["id"] for row in rows]


def _one_child_loader(model: type[Model], parent_column: str, filters: dict) -> DataLoader:
    """The newest child of each parent matching `filters` (e.g. a customer's active discount)."""

    async def load(parent_ids: list[str]) -> list[Model | None]:
        found: dict[str, Model] = {}
        rows = model.filter(**{f"{parent_column}__in": list(set(parent_ids))}, **filters).order_by("created", "id")
        for row in await rows:
            found[getattr(row, parent_column)] = row
        return [found.get(id) for id in parent_ids]

    return DataLoader(load_fn=load)


def _child_page_loader(model: type[Model], parent_column: str, filters: dict) -> DataLoader:
    """Keys are (parent_id, first, after); one query per distinct (first, after) in a batch."""

    async def load(keys: list[tuple[str, int | None, str | None]]) -> list[Connection]:
        groups: dict[tuple, list[str]] = defaultdict(list)
        for parent_id, first, after in keys:
            groups[(first, after)].append(parent_id)
        pages: dict[tuple, Connection] = {}
        for (first, after), parent_ids in groups.items():
            size = page_size(first)
            ids = await _page_ids(model, parent_column, parent_ids, filters, after, size + 1)
            children: dict[str, list] = defaultdict(list)
            for row in await model.filter(id__in=ids).order_by("-created", "-id"):
                children[getattr(row, parent_column)].append(row)
            for parent_id in parent_ids:
                pages[(parent_id, first, after)] = connection(children[parent_id], size, after is not None)
        return [pages[key] for key in keys]

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

    def children(self, model: type[Model], parent_column: str, **filters) -> DataLoader:
        key = ("children", model, parent_column, tuple(sorted(filters.items())))
        if key not in self._loaders:
            self._loaders[key] = _child_page_loader(model, parent_column, filters)
        return self._loaders[key]

    def one_child(self, model: type[Model], parent_column: str, **filters) -> DataLoader:
        key = ("one", model, parent_column, tuple(sorted(filters.items())))
        if key not in self._loaders:
            self._loaders[key] = _one_child_loader(model, parent_column, filters)
        return self._loaders[key]

    async def load(self, model: type[Model], id: str | None):
        return None if id is None else await self.by_id(model).load(id)

    async def page(self, model: type[Model], parent_column: str, parent_id: str, first: int | None,
                   after: str | None, **filters) -> Connection:
        page_size(first)
        return await self.children(model, parent_column, **filters).load((parent_id, first, after))
