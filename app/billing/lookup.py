"""Fetching objects by id for the domain: a missing or deleted id is `resource_missing`."""
from tortoise.models import Model

from app.billing.errors import not_found


def could_exist(model: type[Model], id: str | None) -> bool:
    """Whether `id` fits the model's id column: the ORM refuses to even compare a longer one."""
    return bool(id) and len(id) <= model._meta.pk.max_length


async def get(model: type[Model], id: str | None, param: str = "id", *, kind: str | None = None,
              lock: bool = False, allow_deleted: bool = False):
    """The object with that id, optionally locked FOR UPDATE (inside a transaction)."""
    label = kind or model.__name__.lower()
    if not could_exist(model, id):
        raise not_found(label, id or "", param)
    query = model.filter(id=id)
    if lock:
        query = query.select_for_update()
    obj = await query.first()
    if obj is None or (not allow_deleted and getattr(obj, "deleted", False)):
        raise not_found(label, id, param)
    return obj
