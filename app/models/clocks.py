"""Test clocks: a frozen "now" for the customers attached to them."""
from tortoise import fields

from app.models.base import StripeObject


class TestClock(StripeObject):
    name = fields.CharField(max_length=300, null=True)
    frozen_time = fields.DatetimeField()
    status = fields.CharField(max_length=20, default="ready")
    # Where an advance is going while status is "advancing"; frozen_time moves there when it is done.
    advance_to = fields.DatetimeField(null=True)
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "test_clocks"
