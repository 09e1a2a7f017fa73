"""Mutation helpers: each mutation is one transaction; its events are dispatched after commit."""
import dataclasses
from collections.abc import Awaitable, Callable
from typing import TypeVar

from strawberry import UNSET
from strawberry.types import Info

from app.billing import meter_drain
from app.billing.events import atomic

T = TypeVar("T")
USAGE_FLUSH_SECONDS = 10.0  # a worker that died holding entries gives them up after 30 s: the client retries


async def run(info: Info, action: Callable[[], Awaitable[T]]) -> T:
    async with atomic() as uow:
        result = await action()
    await info.context.dispatch(uow.events)
    return result


async def flush_usage(info: Info) -> None:
    """Store the meter events accepted so far, before a change that may invoice usage at once."""
    context = info.context
    await meter_drain.flush(context.redis, context.meter_consumer, context.dispatch, within=USAGE_FLUSH_SECONDS)


def provided(input) -> dict:
    """The fields an update input sets: omitted ones are absent, explicit nulls stay as None."""
    if input is None:
        return {}
    return {f.name: getattr(input, f.name) for f in dataclasses.fields(input) if getattr(input, f.name) is not UNSET}


def plain(input) -> dict:
    """A create input as keyword arguments for app/billing: enums become their values, inputs dicts."""
    return {key: _plain_value(value) for key, value in provided(input).items()}


def _plain_value(value):
    if hasattr(value, "value") and type(value).__module__ == "app.graphql.enums":
        return value.value
    if dataclasses.is_dataclass(value):
        return plain(value)
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    return value
