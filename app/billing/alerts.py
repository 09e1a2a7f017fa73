"""Billing alerts: one-time usage thresholds on a meter, for one customer or for all.

As Stripe documents, an alert counts only usage reported after its creation: for SUM and COUNT meters the
customer's aggregate minus its baseline (the aggregate when the alert was created, kept per customer);
for LAST meters the last value, when it was reported after the creation. The alert fires
`billing.alert.triggered` when that reaches `gte`, once per alert and customer: the BillingAlertTrigger
row, unique per pair, is written in the event's transaction. Archived alerts never fire.
"""
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal

from tortoise.exceptions import IntegrityError

from app.billing import events, validation
from app.billing.errors import invalid
from app.billing.events import atomic
from app.billing.lookup import get
from app.billing.usage import EPOCH, Tally, tally
from app.clock import now_for, utcnow
from app.ids import new_id
from app.models.customers import Customer
from app.models.meters import BillingAlert, BillingAlertBaseline, BillingAlertTrigger, Meter, MeterUsageMinute
from app.stripe_json import to_json, unix

FOREVER = datetime(9999, 1, 1, tzinfo=EPOCH.tzinfo)


async def create_alert(*, title: str, meter: str, gte: int, customer: str | None = None) -> BillingAlert:
    validation.string(title, "title", max_length=256, required=True)
    found = await get(Meter, meter, "meter", kind="billing.meter")
    if gte < 1:
        raise invalid("gte must be at least 1.", "gte")
    if customer is not None:
        await get(Customer, customer, "customer", kind="customer")
    alert = await BillingAlert.create(id=new_id("alrt"), title=title, meter_id=found.id, gte=gte,
                                      customer_id=customer, since_ordinal=int(utcnow().timestamp()) * 1000 << 20)
    if found.formula != "last":
        minutes = MeterUsageMinute.filter(meter_id=found.id, count__gt=0)
        if customer is not None:
            minutes = minutes.filter(customer_id=customer)
        totals: dict[str, list] = defaultdict(lambda: [Decimal(0), 0])  # summed here: exact on SQLite too
        for customer_id, total, events in await minutes.values_list("customer_id", "sum", "count"):
            totals[customer_id][0] += total
            totals[customer_id][1] += events
        await BillingAlertBaseline.bulk_create([
            BillingAlertBaseline(alert_id=alert.id, customer_id=c, sum=total, count=events)
            for c, (total, events) in totals.items()])
    return alert


def _since(alert: BillingAlert, formula: str, now: Tally, baseline: tuple[Decimal, int] | None) -> Decimal | None:
    """The usage reported after the alert's creation."""
    if formula == "last":
        return now.last[2] if now.last is not None and now.last[1] >= alert.since_ordinal else None
    base_sum, base_count = baseline or (Decimal(0), 0)
    return now.sum - base_sum if formula == "sum" else Decimal(now.count - base_count)


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
    baselines = {(a, c): (s, n) for a, c, s, n in await BillingAlertBaseline.filter(
        alert_id__in=[a.id for a in alerts], customer_id__in={c for _, c in pairs})
        .values_list("alert_id", "customer_id", "sum", "count")}
    tallies: dict[tuple[str, str], Tally] = {}  # each pair's usage read once, whatever its number of alerts
    count = 0
    for alert in alerts:
        for meter_id, customer in pairs:
            if meter_id != alert.meter_id or alert.customer_id not in (None, customer) or (alert.id, customer) in fired:
                continue
            if (meter_id, customer) not in tallies:
                tallies[meter_id, customer] = await tally(meter_id, customer, EPOCH, FOREVER)
            value = _since(alert, meters[meter_id].formula, tallies[meter_id, customer],
                           baselines.get((alert.id, customer)))
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
