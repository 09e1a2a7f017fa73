"""LiveUpdates: the GraphQL subscriptions, fed by the process's live bus (app/live_bus.py), which hears every
event committed by any API process or worker through Redis.

Strawberry builds a websocket's context once per connection, so each message is resolved with fresh
DataLoaders: a message never shows what an earlier one had cached. The subscribers of one event in this
process share that event's DataLoaders, so the rows it changed are read once for all of them.
"""
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

import strawberry
from strawberry.types import Info

from app.billing import entitlements
from app.billing.errors import BillingError, invalid
from app.billing.lookup import get
from app.clock import utcnow
from app.graphql.loaders import Loaders
from app.graphql.types.entitlements import ActiveEntitlementSummary
from app.graphql.types.events import Event
from app.live_bus import ALL, RESYNC, Delivery, LiveBus
from app.models import customers, events

MAX_EVENT_TYPES = 20


def _bus(info: Info) -> LiveBus:
    bus = getattr(info.context, "bus", None)
    if bus is None:
        raise BillingError("Live updates are served over websockets at /graphql.", code="unsupported")
    return bus


def _fresh(info: Info, delivery: Delivery | None = None) -> None:
    """New DataLoaders for the next message: the delivery's own, shared by its subscribers here."""
    info.context.loaders = Loaders() if delivery is None else delivery.shared.setdefault("loaders", Loaders())


def _expired(info: Info) -> bool:
    expires_at = getattr(info.context.principal, "expires_at", None)
    return expires_at is not None and expires_at <= utcnow()


def _matcher(types: list[str] | None):
    """Exact names, or families ending in `.*` (customer.*), as the events query takes them."""
    if types is None:
        return (ALL,), lambda type: True
    if not types or len(types) > MAX_EVENT_TYPES:
        raise invalid(f"types takes 1 to {MAX_EVENT_TYPES} event names.", "types")
    families = tuple(t[:-1] for t in types if t.endswith(".*"))
    names = frozenset(t for t in types if not t.endswith(".*"))
    topics = (ALL,) if families else tuple(names)
    return topics, lambda type: type in names or type.startswith(families or ("\0",))


def _event(message: dict) -> events.Event:
    return events.Event(id=message["id"], type=message["type"], data=message["data"],
                        created=datetime.fromtimestamp(message["created"], UTC),
                        pending_webhooks=message.get("pending_webhooks", 0))


@strawberry.type
class LiveUpdates:
    @strawberry.subscription(description="Sends the customer's active entitlements at once, then again each time "
                                         "they change.")
    async def active_entitlements_changed(self, info: Info,
                                          customer: strawberry.ID) -> AsyncGenerator[ActiveEntitlementSummary, None]:
        await get(customers.Customer, customer, "customer")
        with _bus(info).subscribe((entitlements.UPDATED, customer)) as feed:
            delivery = None
            while True:
                _fresh(info, delivery)
                yield ActiveEntitlementSummary(customer_id=customer)
                delivery = await feed.get()
                delivery = ([delivery, *feed.drain()])[-1]  # changes that came together are sent once, as they are
                if _expired(info):
                    return

    @strawberry.subscription(description="Every event as it is recorded (secret keys only), optionally filtered by "
                                         "type.")
    async def events(self, info: Info, types: list[str] | None = None) -> AsyncGenerator[Event, None]:
        topics, wanted = _matcher(types)
        with _bus(info).subscribe(*topics) as feed:
            while True:
                delivery = await feed.get()
                if delivery is RESYNC or not wanted(delivery.event["type"]):
                    continue
                _fresh(info, delivery)
                yield _event(delivery.event)
