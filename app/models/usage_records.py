"""Usage records (Stripe's legacy usage reporting) of metered subscription items without a meter."""
from tortoise import fields
from tortoise.models import Model

from app.models.base import StripeObject


class UsageRecord(StripeObject):
    """One createUsageRecord call, as reported: the audit trail. Billing reads UsageTotal."""

    subscription_item = fields.ForeignKeyField("models.SubscriptionItem", related_name="usage_records",
                                               on_delete=fields.CASCADE)
    quantity = fields.BigIntField()
    action = fields.CharField(max_length=16)
    timestamp = fields.DatetimeField()

    class Meta:
        table = "usage_records"
        indexes = (("subscription_item_id", "timestamp"),)


class UsageTotal(Model):
    """The usage of one item at one timestamp: an INCREMENT adds to it, a SET replaces it.
    Aggregations (SUM, MAX, LAST_*) read these rows, one per distinct timestamp."""

    id = fields.BigIntField(primary_key=True)
    subscription_item = fields.ForeignKeyField("models.SubscriptionItem", related_name="usage_totals",
                                               on_delete=fields.CASCADE)
    timestamp = fields.DatetimeField()
    quantity = fields.BigIntField()

    class Meta:
        table = "usage_totals"
        unique_together = (("subscription_item", "timestamp"),)
