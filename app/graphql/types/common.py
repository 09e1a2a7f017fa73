"""Types every domain shares: the Node interface, DeletedObject, Period."""
from datetime import datetime

import strawberry
from strawberry.types import Info
from tortoise.models import Model


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class DeletedObject:
    id: strawberry.ID
    deleted: bool = True


@strawberry.type
class Period:
    start: datetime
    end: datetime


def model_type(model: type[Model]):
    """is_type_of for a strawberry type whose resolvers return `model` instances."""

    def is_type_of(cls, obj, info: Info) -> bool:
        return isinstance(obj, model)

    return classmethod(is_type_of)
