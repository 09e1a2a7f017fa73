"""Bulk writes for the billing cycle: one statement for many rows of a model, and rows built cheaply."""
import copy
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from tortoise.fields.base import Field
from tortoise.models import Model

M = TypeVar("M", bound=Model)

MAX_PARAMETERS = 32_000  # PostgreSQL takes at most 32,767 parameters a statement


def build(model: type[M], **values) -> M:
    """A new, unsaved row with these values (and the model's defaults for the others), built without
    Tortoise's per-field conversions and checks: for rows made by the thousand, from values that already
    have their field's type. The database still checks them on insert."""
    row = model.__new__(model)
    put = object.__setattr__
    put(row, "_partial", False)
    put(row, "_saved_in_db", False)
    put(row, "_custom_generated_pk", False)
    put(row, "_await_when_save", {})
    for name, default in _defaults(model):
        put(row, name, values.pop(name) if name in values else default())
    if values:
        raise TypeError(f"{model.__name__} has no field(s) {', '.join(values)}")
    return row


_DEFAULTS: dict[type[Model], list[tuple[str, Callable]]] = {}


def _defaults(model: type[Model]) -> list[tuple[str, Callable]]:
    if model not in _DEFAULTS:
        meta = model._meta
        _DEFAULTS[model] = [(name, _default_of(meta.fields_map[name])) for name in sorted(meta.db_fields)]
    return _DEFAULTS[model]


def _default_of(field: Field) -> Callable:
    default = field.default
    if callable(default):
        return default
    return lambda: copy.deepcopy(default)


async def insert(rows: Sequence[Model]) -> None:
    """INSERT new rows of one model in one statement; they count as saved afterwards."""
    if not rows:
        return
    await type(rows[0]).bulk_create(rows)
    for row in rows:
        row._saved_in_db = True


async def update(rows: Sequence[Model], fields: Iterable[str]) -> None:
    """UPDATE these fields of stored rows of one model. On PostgreSQL one statement for many rows
    (`UPDATE ... FROM (VALUES ...)`); elsewhere, and for one row, a `save(update_fields=...)` each."""
    fields = list(fields)
    if not rows or not fields:
        return
    model = type(rows[0])
    db = model._meta.db
    if len(rows) == 1 or db.capabilities.dialect != "postgres":
        for row in rows:
            await row.save(update_fields=fields)
        return
    per_statement = MAX_PARAMETERS // (len(fields) + 1)
    for start in range(0, len(rows), per_statement):
        sql, values = _update_sql(model, rows[start:start + per_statement], fields)
        await db.execute_query(sql, values)


def _update_sql(model: type[Model], rows: Sequence[Model], fields: list[str]) -> tuple[str, list]:
    meta = model._meta
    names = [meta.pk_attr, *fields]
    columns = [meta.fields_db_projection[name] for name in names]
    types = [meta.fields_map[name].get_for_dialect("postgres", "SQL_TYPE") for name in names]
    converters = [_to_db(meta.fields_map[name]) for name in names]
    values, tuples = [], []
    for row in rows:
        first = len(values) + 1
        values += [convert(getattr(row, name), row) for name, convert in zip(names, converters, strict=True)]
        tuples.append("(" + ", ".join(f"${first + i}::{t}" for i, t in enumerate(types)) + ")")
    assignments = ", ".join(f'"{c}" = v."{c}"' for c in columns[1:])
    aliases = ", ".join(f'"{c}"' for c in columns)
    sql = (f'UPDATE "{meta.db_table}" AS t SET {assignments} FROM (VALUES {", ".join(tuples)}) AS v({aliases}) '
           f'WHERE t."{columns[0]}" = v."{columns[0]}"')
    return sql, values


def fields_of(model: type[Model]) -> list[str]:
    """Every stored field of a model but its primary key (what `save()` writes)."""
    meta = model._meta
    return sorted(name for name in meta.db_fields if name != meta.pk_attr and not meta.fields_map[name].generated)


def _to_db(field: Field) -> Callable:
    """The field's to_db_value; for plain fields (text, numbers, booleans) only the type conversion,
    without re-running its validators on every row (the database checks lengths and nulls)."""
    if type(field).to_db_value is not Field.to_db_value:
        return field.to_db_value
    field_type = field.field_type

    def convert(value, row):
        return value if value is None or isinstance(value, field_type) else field_type(value)
    return convert
