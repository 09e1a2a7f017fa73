"""Billing alerts: one-time usage thresholds on a meter, for one customer or for all.

An alert fires `billing.alert.triggered` when a customer's usage on its meter (the meter's aggregate over
all the customer's events) reaches `gte`, once per alert and customer: the BillingAlertTrigger row, unique
per pair, is written in the event's transaction. Archived alerts never fire.
"""
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal

from tortoise.exceptions import IntegrityError

from app.billing import events, validation
from app.billing.errors import invalid
from app.billing.events import atomic
from app.billing.lookup import get
from app.billing.usage import EPOCH, usage
from app.clock import now_for
from app.ids import new_id
from app.models.customers import Customer
from app.models.meters import BillingAlert, BillingAlertTrigger, Meter
from app.stripe_json import to_json, unix

FOREVER = datetime(9999, 1, 1, tzinfo=EPOCH.tzinfo)


async def create_alert(*, title: str, meter: str, gte: int, customer: str | None = None) -> BillingAlert:
    validation.string(title, "title", max_length=256, required=True)
    found = await get(Meter, meter, "meter", kind="billing.meter")
    if gte < 1:
        raise invalid("gte must be at least 1.", "gte")
    if customer is not None:
        await get(Customer, customer, "customer", kind="customer")
    return await BillingAlert.create(id=new_id("alrt"), title=title, meter_id=found.id, gte=gte,
                                     customer_id=customer)


async def archive_alert(id: str) -> BillingAlert:
    alert = await get(BillingAlert, id, kind="billing.alert", lock=True)
    alert.status = "archived"
    await alert.save(update_fields=["status"])
    return alert


async def check(pairs: set[tuple[str, str]], dispatch: Callable[[list], Awaitable[None]]) -> int:
    """Fire the active alerts that the usage of these (meter, customer) pairs now reaches."""
    if not pairs:
        return 0
    alerts = await BillingAlert.filter(status="active", meter_id__in={m for m, _ in pairs})
    if not alerts:
        return 0
    fired = set(await BillingAlertTrigger.filter(alert_id__in=[a.id for a in alerts])
                .values_list("alert_id", "customer_id"))
    meters = {m.id: m for m in await Meter.filter(id__in={a.meter_id for a in alerts})}
    count = 0
    for alert in alerts:
        for meter_id, customer in pairs:
            if meter_id != alert.meter_id or alert.customer_id not in (None, customer) or (alert.id, customer) in fired:
                continue
            value = await usage(meters[meter_id], customer, EPOCH, FOREVER)
            if value is not None and value >= alert.gte and await _fire(alert.id, customer, value, dispatch):
                count += 1
    return count


async def _fire(alert_id: str, customer_id: str, value: Decimal, dispatch) -> bool:
    try:
        async with atomic() as uow:
            alert = await BillingAlert.filter(id=alert_id, status="active").select_for_update().first()
            if alert is None:
                return False
            now = await now_for(await Customer.get_or_none(id=customer_id))
            await BillingAlertTrigger.create(alert_id=alert.id, customer_id=customer_id, created=now)
            await events.record("billing.alert.triggered", {
                "object": "billing.alert_triggered", "alert": to_json(alert), "created": unix(now),
                "customer": customer_id, "livemode": False, "value": int(value)}, created=now)
    except IntegrityError:
        return False  # another worker fired it first
    await dispatch(uow.events)
    return True
