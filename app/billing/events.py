"""Record an Event for every state change, in the transaction that makes the change.

`atomic()` opens the transaction and collects the events recorded inside it, inserting them in
one statement at the end of the block, before the commit; once it has committed, the caller hands
them to a dispatcher (webhooks, live updates). Outside `atomic()` an event is inserted at once. An
event whose dispatch was lost to a crash stays `dispatched=False` and is picked up by the outbox sweep.
Before the outermost block commits, the changes that follow from its events are made in it
(a customer's entitlements, when its subscriptions changed).
"""
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar

from tortoise.transactions import in_transaction

from app.billing import writes
from app.clock import utcnow
from app.ids import new_id
from app.models.events import Event
from app.stripe_json import to_json

Dispatcher = Callable[[list[Event]], Awaitable[None]]

_recorded: ContextVar[list[Event] | None] = ContextVar("recorded_events", default=None)


class UnitOfWork:
    def __init__(self) -> None:
        self.events: list[Event] = []


@asynccontextmanager
async def atomic():
    """One transaction; yields a UnitOfWork whose .events are final once the block has committed."""
    uow = UnitOfWork()
    outer = _recorded.get()
    token = _recorded.set(uow.events)
    try:
        async with in_transaction():
            yield uow
            if outer is None:  # a nested block's events are inserted by the outermost one
                await _before_commit(uow)
                if uow.events:
                    await Event.bulk_create(uow.events)
    finally:
        _recorded.reset(token)
    if outer is not None:
        outer.extend(uow.events)


async def _before_commit(uow: UnitOfWork) -> None:
    """What must change with the recorded events, in their transaction: the entitlements they move."""
    from app.billing import entitlements  # it records its own events through this module

    await entitlements.sync_changed(uow.events)


async def record(type: str, obj, previous: dict | None = None, *, created=None) -> Event:
    """Record `type` for `obj` (a model, or its Stripe JSON), with previous_attributes when given."""
    data_object = obj if isinstance(obj, dict) else to_json(obj)
    data = {"object": data_object}
    if previous:
        data["previous_attributes"] = previous
    event = writes.build(Event, id=new_id("evt"), type=type, object_id=data_object.get("id"), data=data,
                         created=created or utcnow())
    pending = _recorded.get()
    if pending is None:
        await event.save(force_create=True)
    else:
        pending.append(event)
    return event


def snapshot(obj) -> dict:
    return to_json(obj)


def changed(before: dict, after: dict) -> dict:
    """Stripe's previous_attributes: the old values of the top-level keys that changed."""
    return {key: value for key, value in before.items() if after.get(key) != value}


async def record_update(type: str, obj, before: dict, **kwargs) -> Event | None:
    """Record an update event when something changed; nothing when the update was a no-op."""
    after = to_json(obj)
    previous = changed(before, after)
    if not previous:
        return None
    return await record(type, after, previous, **kwargs)
