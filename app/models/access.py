"""API access: secret keys and customer sessions (both stored as SHA-256 digests), and idempotency records."""
from tortoise import fields
from tortoise.models import Model

from app.models.base import StripeObject


class ApiKey(StripeObject):
    digest = fields.CharField(max_length=64, unique=True)
    last4 = fields.CharField(max_length=4)
    name = fields.CharField(max_length=100, null=True)
    revoked = fields.BooleanField(default=False)

    class Meta:
        table = "api_keys"


class IdempotencyRecord(Model):
    """One mutation request per (key, Idempotency-Key): the first answer is replayed for 24 hours."""

    id = fields.IntField(primary_key=True)
    scope = fields.CharField(max_length=64)
    key = fields.CharField(max_length=255)
    request_hash = fields.CharField(max_length=64)
    status_code = fields.IntField(null=True)
    response = fields.TextField(null=True)
    created = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "idempotency_records"
        unique_together = (("scope", "key"),)


class CustomerSession(StripeObject):
    """A customer's frontend access for 30 minutes: its client secret is stored only as a SHA-256 digest."""

    customer = fields.ForeignKeyField("models.Customer", related_name="sessions", on_delete=fields.CASCADE)
    digest = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "customer_sessions"
