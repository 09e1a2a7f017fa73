"""Meters: create, rename, deactivate and reactivate (Stripe's billing.meter)."""
import re

from tortoise.exceptions import IntegrityError

from app.billing import events, validation
from app.billing.errors import BillingError, invalid
from app.billing.lookup import get
from app.clock import utcnow
from app.ids import new_id
from app.models.meters import Meter

FORMULAS = ("sum", "count", "last")
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_.\-:]{1,100}$")
_PAYLOAD_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


def _payload_key(value: str | None, default: str, param: str) -> str:
    if value is None:
        return default
    if not _PAYLOAD_KEY.match(value):
        raise invalid("A payload key holds 1 to 100 letters, digits, '_', '-' or '.'.", param)
    return value


async def create_meter(*, display_name: str, event_name: str, formula: str, customer_payload_key: str | None = None,
                       value_payload_key: str | None = None) -> Meter:
    validation.string(display_name, "displayName", max_length=250, required=True)
    if not isinstance(event_name, str) or not _EVENT_NAME.match(event_name):
        raise invalid("eventName holds 1 to 100 letters, digits, '_', '-', '.' or ':'.", "eventName")
    if formula not in FORMULAS:
        raise invalid("formula must be SUM, COUNT or LAST.", "formula")
    customer_key = _payload_key(customer_payload_key, "stripe_customer_id", "customerPayloadKey")
    value_key = _payload_key(value_payload_key, "value", "valuePayloadKey")
    if customer_key == value_key:
        raise invalid("The customer and value payload keys must differ.", "valuePayloadKey")
    now = utcnow()
    try:
        meter = await Meter.create(
            id=new_id("mtr"), display_name=display_name, event_name=event_name, formula=formula,
            customer_payload_key=customer_key, value_payload_key=value_key, created=now, updated=now,
        )
    except IntegrityError:
        raise BillingError(f"A meter with event_name '{event_name}' already exists.",
                           code="resource_already_exists", param="eventName") from None
    await events.record("billing.meter.created", meter)
    return meter


async def update_meter(id: str, changes: dict) -> Meter:
    meter = await get(Meter, id, kind="billing.meter", lock=True)
    before = events.snapshot(meter)
    if "display_name" in changes:
        meter.display_name = validation.string(changes["display_name"], "displayName", max_length=250,
                                               required=True)
    meter.updated = utcnow()
    await meter.save()
    await events.record_update("billing.meter.updated", meter, before)
    return meter


async def set_status(id: str, status: str) -> Meter:
    """Deactivate ("inactive") or reactivate ("active"): an inactive meter refuses new events."""
    meter = await get(Meter, id, kind="billing.meter", lock=True)
    if meter.status == status:
        verb = "active" if status == "active" else "inactive"
        raise invalid(f"The meter is already {verb}.", "id")
    meter.status = status
    meter.updated = utcnow()
    await meter.save(update_fields=["status", "updated"])
    await events.record("billing.meter.reactivated" if status == "active" else "billing.meter.deactivated", meter)
    return meter
