"""Subscriptions and their items."""
from tortoise import fields

from app.models.base import StripeObject, metadata_field


class Subscription(StripeObject):
    """All items share one currency and one interval, kept here for the cycle arithmetic."""

    customer = fields.ForeignKeyField("models.Customer", related_name="subscriptions", on_delete=fields.RESTRICT)
    status = fields.CharField(max_length=24, db_index=True)
    currency = fields.CharField(max_length=3)
    interval = fields.CharField(max_length=8)
    interval_count = fields.IntField()
    collection_method = fields.CharField(max_length=24, default="charge_automatically")
    days_until_due = fields.IntField(null=True)
    default_payment_method_id = fields.CharField(max_length=64, null=True)
    start_date = fields.DatetimeField()
    billing_cycle_anchor = fields.DatetimeField()
    current_period_start = fields.DatetimeField()
    current_period_end = fields.DatetimeField(db_index=True)
    trial_start = fields.DatetimeField(null=True)
    trial_end = fields.DatetimeField(null=True)
    trial_will_end_notified = fields.BooleanField(default=False)
    cancel_at_period_end = fields.BooleanField(default=False)
    cancel_at = fields.DatetimeField(null=True)
    canceled_at = fields.DatetimeField(null=True)
    ended_at = fields.DatetimeField(null=True)
    pause_collection_behavior = fields.CharField(max_length=24, null=True)
    pause_collection_resumes_at = fields.DatetimeField(null=True)
    latest_invoice_id = fields.CharField(max_length=64, null=True)
    test_clock_id = fields.CharField(max_length=64, null=True, db_index=True)
    metadata = metadata_field()

    class Meta:
        table = "subscriptions"
        indexes = (("customer_id", "created", "id"),)


class SubscriptionItem(StripeObject):
    subscription = fields.ForeignKeyField("models.Subscription", related_name="items", on_delete=fields.CASCADE)
    price = fields.ForeignKeyField("models.Price", related_name="subscription_items", on_delete=fields.RESTRICT)
    quantity = fields.BigIntField(null=True)
    metadata = metadata_field()
    # Items removed from a subscription stay for the invoices that reference them.
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "subscription_items"
        indexes = (("subscription_id", "created", "id"),)
