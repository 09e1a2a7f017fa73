"""Cursor connections: newest first (created desc, then id desc) unless a list has its own order
(invoice lines: in position), keyset cursors, at most 100 a page."""
import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import strawberry
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from app.billing.errors import invalid

T = TypeVar("T")
DEFAULT_PAGE = 10
MAX_PAGE = 100


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T]
    page_info: PageInfo


@dataclass(frozen=True)
class Order:
    """A keyset order: a key column, then id, both descending or both ascending."""

    key: str
    descending: bool

    def order_by(self) -> list[str]:
        sign = "-" if self.descending else ""
        return [f"{sign}{self.key}", f"{sign}id"]

    def sql(self, table: str) -> str:
        direction = "DESC" if self.descending else "ASC"
        return f'"{table}"."{self.key}" {direction}, "{table}"."id" {direction}'

    def parse(self, raw: str):
        if self.key != "created":
            return int(raw)
        when = datetime.fromisoformat(raw)
        if when.tzinfo is None:
            raise ValueError(raw)
        return when


NEWEST_FIRST = Order("created", descending=True)
IN_POSITION = Order("position", descending=False)


def encode_cursor(obj, order: Order = NEWEST_FIRST) -> str:
    value = getattr(obj, order.key)
    raw = f"{value.isoformat() if isinstance(value, datetime) else value}|{obj.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: Order = NEWEST_FIRST) -> tuple:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        value, id = raw.split("|", 1)
        return order.parse(value), id
    except ValueError:
        raise invalid("Invalid cursor.", "after") from None


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise invalid(f"first must be between 0 and {MAX_PAGE}.", "first")
    return first


def after_filter(after: str | None, order: Order = NEWEST_FIRST) -> Q | None:
    """Rows strictly after the cursor in the order."""
    if after is None:
        return None
    value, id = decode_cursor(after, order)
    op = "lt" if order.descending else "gt"
    return Q(**{f"{order.key}__{op}": value}) | Q(**{order.key: value, f"id__{op}": id})


def connection(rows: list, size: int, has_previous: bool, order: Order = NEWEST_FIRST) -> Connection:
    """Build a page from up to size+1 rows (the extra one only tells that there is a next page)."""
    page = rows[:size]
    edges = [Edge(cursor=encode_cursor(row, order), node=row) for row in page]
    return Connection(
        edges=edges, nodes=page,
        page_info=PageInfo(
            has_next_page=len(rows) > size, has_previous_page=has_previous,
            start_cursor=edges[0].cursor if edges else None, end_cursor=edges[-1].cursor if edges else None,
        ),
    )


async def paginate(query: QuerySet, first: int | None, after: str | None,
                   order: Order = NEWEST_FIRST) -> Connection:
    size = page_size(first)
    keyset = after_filter(after, order)
    if keyset is not None:
        query = query.filter(keyset)
    rows = await query.order_by(*order.order_by()).limit(size + 1)
    return connection(rows, size, after is not None, order)


def page_of(rows: list, first: int | None, after: str | None, order: Order) -> Connection:
    """A page of rows already in memory and in order (an upcoming invoice's lines)."""
    size = page_size(first)
    if after is not None:
        value, id = decode_cursor(after, order)
        position = next((i for i, row in enumerate(rows) if (getattr(row, order.key), row.id) == (value, id)), None)
        if position is None:
            raise invalid("Invalid cursor.", "after")
        rows = rows[position + 1:]
    return connection(rows[:size + 1], size, after is not None, order)
