"""Cursor connections: newest first (created desc, then id desc), keyset cursors, at most 100 a page."""
import base64
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


def encode_cursor(obj) -> str:
    raw = f"{obj.created.isoformat()}|{obj.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, id = raw.split("|", 1)
        return datetime.fromisoformat(created), id
    except ValueError:
        raise invalid("Invalid cursor.", "after") from None


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise invalid(f"first must be between 0 and {MAX_PAGE}.", "first")
    return first


def after_filter(after: str | None) -> Q | None:
    """Rows strictly after the cursor in (created desc, id desc) order."""
    if after is None:
        return None
    created, id = decode_cursor(after)
    return Q(created__lt=created) | Q(created=created, id__lt=id)


def connection(rows: list, size: int, has_previous: bool) -> Connection:
    """Build a page from up to size+1 rows (the extra one only tells that there is a next page)."""
    page = rows[:size]
    edges = [Edge(cursor=encode_cursor(row), node=row) for row in page]
    return Connection(
        edges=edges, nodes=page,
        page_info=PageInfo(
            has_next_page=len(rows) > size, has_previous_page=has_previous,
            start_cursor=edges[0].cursor if edges else None, end_cursor=edges[-1].cursor if edges else None,
        ),
    )


async def paginate(query: QuerySet, first: int | None, after: str | None) -> Connection:
    size = page_size(first)
    keyset = after_filter(after)
    if keyset is not None:
        query = query.filter(keyset)
    rows = await query.order_by("-created", "-id").limit(size + 1)
    return connection(rows, size, after is not None)
