"""Coupons and the discounts that apply them to a customer (or, later, a subscription)."""
from tortoise import fields

from app.models.base import StripeObject, metadata_field


class Coupon(StripeObject):
    deleted = fields.BooleanField(default=False)
    name = fields.CharField(max_length=40, null=True)
    amount_off = fields.BigIntField(null=True)
    currency = fields.CharField(max_length=3, null=True)
    percent_off = fields.DecimalField(max_digits=5, decimal_places=2, null=True)
    duration = fields.CharField(max_length=16)
    duration_in_months = fields.IntField(null=True)
    max_redemptions = fields.IntField(null=True)
    times_redeemed = fields.IntField(default=0)
    redeem_by = fields.DatetimeField(null=True)
    applies_to_products = fields.JSONField(null=True)
    metadata = metadata_field()

    class Meta:
        table = "coupons"


class Discount(StripeObject):
    coupon = fields.ForeignKeyField("models.Coupon", related_name="discounts", on_delete=fields.RESTRICT)
    customer = fields.ForeignKeyField("models.Customer", null=True, related_name="discounts")
    subscription_id = fields.CharField(max_length=64, null=True, db_index=True)
    # A discount made for one invoice (createInvoice with a coupon).
    invoice_id = fields.CharField(max_length=64, null=True)
    start = fields.DatetimeField()
    end = fields.DatetimeField(null=True)
    # When the discount stopped applying (replaced or removed); null while it applies.
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "discounts"
        indexes = (("customer_id", "created", "id"),)
