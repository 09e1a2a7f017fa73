"""What every stored Stripe object shares: a prefixed string id and a creation time."""
from tortoise import fields
from tortoise.models import Model

from app.clock import utcnow


class StripeObject(Model):
    """Listed newest first: (created desc, id desc), with keyset cursors over both."""

    id = fields.CharField(max_length=64, primary_key=True)
    created = fields.DatetimeField(default=utcnow)

    class Meta:
        abstract = True


def metadata_field():
    return fields.JSONField(default=dict)
