"""Entitlements: the features each customer may use now, what each subscription grants for its current
period, and the row that serializes a customer's recomputes."""
from tortoise import fields
from tortoise.models import Model

from app.models.base import StripeObject


class ActiveEntitlement(StripeObject):
    """One feature a customer may use now (Stripe's entitlements.active_entitlement)."""

    customer = fields.ForeignKeyField("models.Customer", related_name="active_entitlements",
                                      on_delete=fields.CASCADE)
    feature = fields.ForeignKeyField("models.Feature", related_name="active_entitlements",
                                     on_delete=fields.RESTRICT)
    lookup_key = fields.CharField(max_length=80)

    class Meta:
        table = "active_entitlements"
        unique_together = (("customer", "feature"),)
        indexes = (("customer_id", "created", "id"),)


class SubscriptionFeatures(Model):
    """The features a subscription grants during its current period: each product's features as they were
    when the period began, or when the product joined the subscription mid-period.

    products: {product_id: [feature_id, ...]}.
    """

    id = fields.IntField(primary_key=True)
    subscription = fields.OneToOneField("models.Subscription", related_name="features_snapshot",
                                        on_delete=fields.CASCADE)
    period_start = fields.DatetimeField()
    products = fields.JSONField(default=dict)

    class Meta:
        table = "subscription_features"


class EntitlementLock(Model):
    """One row per customer, locked while its entitlements are recomputed, so concurrent recomputes of one
    customer run one after the other. Always locked last in a transaction, so it never takes part in a
    deadlock."""

    id = fields.IntField(primary_key=True)
    customer = fields.OneToOneField("models.Customer", related_name="entitlement_lock", on_delete=fields.CASCADE)

    class Meta:
        table = "entitlement_locks"
