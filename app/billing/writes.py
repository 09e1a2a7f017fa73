"""Bulk writes for the billing cycle: one statement for many rows of a model."""
from collections.abc import Iterable, Sequence

from tortoise.models import Model

# Rows per bulk UPDATE: it sets each field with a CASE over the rows' ids, so its size grows with both.
UPDATE_BATCH = 100


async def insert(rows: Sequence[Model]) -> None:
    """INSERT new rows of one model in one statement; they count as saved afterwards."""
    if not rows:
        return
    await type(rows[0]).bulk_create(rows)
    for row in rows:
        row._saved_in_db = True


async def update(rows: Sequence[Model], fields: Iterable[str]) -> None:
    """UPDATE these fields of stored rows of one model: one statement (per UPDATE_BATCH rows)."""
    fields = list(fields)
    if not rows or not fields:
        return
    if len(rows) == 1:
        await rows[0].save(update_fields=fields)
        return
    await type(rows[0]).bulk_update(rows, fields, batch_size=UPDATE_BATCH)


def fields_of(model: type[Model]) -> list[str]:
    """Every stored field of a model but its primary key (what `save()` writes)."""
    meta = model._meta
    return sorted(name for name in meta.db_fields if name != meta.pk_attr and not meta.fields_map[name].generated)
