"""Products, prices, entitlement features and the features attached to products."""
from tortoise import fields

from app.models.base import StripeObject, metadata_field


class Product(StripeObject):
    deleted = fields.BooleanField(default=False)
    name = fields.CharField(max_length=5000)
    description = fields.TextField(null=True)
    active = fields.BooleanField(default=True)
    metadata = metadata_field()
    # A price id, not a foreign key: prices reference their product, and the cycle would stop schema creation.
    default_price_id = fields.CharField(max_length=64, null=True)
    updated = fields.DatetimeField()

    class Meta:
        table = "products"


class Price(StripeObject):
    """Amounts never change after creation. Only active, nickname, lookup_key and metadata do.

    tiers is a list of {up_to, unit_amount, unit_amount_decimal, flat_amount, flat_amount_decimal}
    (decimals as strings); transform_quantity is {divide_by, round}.
    """

    product = fields.ForeignKeyField("models.Product", related_name="prices", on_delete=fields.RESTRICT)
    active = fields.BooleanField(default=True)
    currency = fields.CharField(max_length=3)
    type = fields.CharField(max_length=16)
    billing_scheme = fields.CharField(max_length=16, default="per_unit")
    unit_amount = fields.BigIntField(null=True)
    unit_amount_decimal = fields.DecimalField(max_digits=32, decimal_places=12, null=True)
    tiers_mode = fields.CharField(max_length=16, null=True)
    tiers = fields.JSONField(null=True)
    transform_quantity = fields.JSONField(null=True)
    recurring_interval = fields.CharField(max_length=8, null=True)
    recurring_interval_count = fields.IntField(null=True)
    recurring_usage_type = fields.CharField(max_length=16, null=True)
    recurring_aggregate_usage = fields.CharField(max_length=32, null=True)
    recurring_meter_id = fields.CharField(max_length=64, null=True)
    lookup_key = fields.CharField(max_length=200, null=True)
    # The lookup key while the price is active: the database keeps it unique among active prices.
    active_lookup_key = fields.CharField(max_length=200, null=True, unique=True)
    nickname = fields.CharField(max_length=5000, null=True)
    metadata = metadata_field()

    class Meta:
        table = "prices"
        indexes = (("product_id", "created", "id"),)


class Feature(StripeObject):
    name = fields.CharField(max_length=80)
    lookup_key = fields.CharField(max_length=80)
    # The lookup key while the feature is active: unique among active features, reusable once archived.
    active_lookup_key = fields.CharField(max_length=80, null=True, unique=True)
    active = fields.BooleanField(default=True)
    metadata = metadata_field()

    class Meta:
        table = "features"


class ProductFeature(StripeObject):
    product = fields.ForeignKeyField("models.Product", related_name="product_features", on_delete=fields.CASCADE)
    feature = fields.ForeignKeyField("models.Feature", related_name="product_features", on_delete=fields.RESTRICT)

    class Meta:
        table = "product_features"
        indexes = (("product_id", "created", "id"),)
        unique_together = (("product", "feature"),)
