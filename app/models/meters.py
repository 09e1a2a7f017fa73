"""Meters, the meter events they count, per-minute aggregates, adjustments, and billing alerts."""
from tortoise import fields
from tortoise.models import Model

from app.models.base import StripeObject

VALUE = {"max_digits": 32, "decimal_places": 12}


class Meter(StripeObject):
    display_name = fields.CharField(max_length=250)
    # One meter per event name (Stripe), so an event finds its meter by name.
    event_name = fields.CharField(max_length=100, unique=True)
    status = fields.CharField(max_length=16, default="active")
    formula = fields.CharField(max_length=8)
    customer_payload_key = fields.CharField(max_length=100, default="stripe_customer_id")
    value_payload_key = fields.CharField(max_length=100, default="value")
    updated = fields.DatetimeField()

    class Meta:
        table = "meters"


class MeterEvent(Model):
    """One stored event. The identifier is the primary key: the database's final word on duplicates.
    `ordinal` is the acceptance order (from the stream entry id), which breaks ties for LAST."""

    identifier = fields.CharField(max_length=100, primary_key=True)
    event_name = fields.CharField(max_length=100)
    meter_id = fields.CharField(max_length=64)
    customer_id = fields.CharField(max_length=64)
    value = fields.DecimalField(**VALUE)
    timestamp = fields.DatetimeField()
    created = fields.DatetimeField()
    ordinal = fields.BigIntField()
    payload = fields.JSONField()
    canceled = fields.BooleanField(default=False)

    class Meta:
        table = "meter_events"
        indexes = (("meter_id", "customer_id", "timestamp"),)


class MeterUsageMinute(Model):
    """The events of one meter and customer in one UTC minute: sum, count and the last value (the
    event with the greatest (timestamp, ordinal)). Canceled events are taken out."""

    id = fields.BigIntField(primary_key=True)
    meter_id = fields.CharField(max_length=64)
    customer_id = fields.CharField(max_length=64)
    minute = fields.DatetimeField()
    sum = fields.DecimalField(**VALUE)
    count = fields.BigIntField()
    last_timestamp = fields.DatetimeField(null=True)
    last_ordinal = fields.BigIntField(null=True)
    last_value = fields.DecimalField(**VALUE, null=True)

    class Meta:
        table = "meter_usage_minutes"
        unique_together = (("meter_id", "customer_id", "minute"),)


class MeterEventAdjustment(StripeObject):
    """A cancellation of one event by identifier: PENDING until the event is stored and canceled."""

    event_name = fields.CharField(max_length=100)
    cancel_identifier = fields.CharField(max_length=100, db_index=True)
    status = fields.CharField(max_length=16, default="pending", db_index=True)

    class Meta:
        table = "meter_event_adjustments"


class BillingAlert(StripeObject):
    """A one-time usage threshold (gte) on a meter, for one customer or for all."""

    title = fields.CharField(max_length=256)
    status = fields.CharField(max_length=16, default="active")
    meter = fields.ForeignKeyField("models.Meter", related_name="alerts", on_delete=fields.RESTRICT)
    gte = fields.BigIntField()
    customer_id = fields.CharField(max_length=64, null=True)
    # Usage counts from here on: the acceptance order (meter_stream.Entry.ordinal) of the alert's creation.
    since_ordinal = fields.BigIntField(default=0)

    class Meta:
        table = "billing_alerts"


class BillingAlertBaseline(Model):
    """A customer's SUM and COUNT on the alert's meter when the alert was created: only what is reported
    after creation counts toward it (a customer without a baseline had none)."""

    id = fields.BigIntField(primary_key=True)
    alert = fields.ForeignKeyField("models.BillingAlert", related_name="baselines", on_delete=fields.CASCADE)
    customer_id = fields.CharField(max_length=64)
    sum = fields.DecimalField(**VALUE)
    count = fields.BigIntField()

    class Meta:
        table = "billing_alert_baselines"
        unique_together = (("alert", "customer_id"),)


class BillingAlertTrigger(Model):
    """That an alert fired for a customer: the unique pair makes `billing.alert.triggered` once per both."""

    id = fields.BigIntField(primary_key=True)
    alert = fields.ForeignKeyField("models.BillingAlert", related_name="triggers", on_delete=fields.CASCADE)
    customer_id = fields.CharField(max_length=64)
    created = fields.DatetimeField()

    class Meta:
        table = "billing_alert_triggers"
        unique_together = (("alert", "customer_id"),)
