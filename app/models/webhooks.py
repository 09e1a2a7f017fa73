"""Webhook endpoints and their deliveries: one delivery per (event, endpoint), with its attempt log."""
from tortoise import fields

from app.models.base import StripeObject


class WebhookEndpoint(StripeObject):
    url = fields.CharField(max_length=2048)
    enabled_events = fields.JSONField(default=list)
    status = fields.CharField(max_length=20, default="enabled")  # enabled | disabled
    description = fields.CharField(max_length=5000, null=True)
    # Signing secrets: kept to sign, shown only when created or rotated. After a rotation the previous
    # one signs too (a second v1 signature) until it expires.
    secret = fields.CharField(max_length=100)
    previous_secret = fields.CharField(max_length=100, null=True)
    previous_secret_expires_at = fields.DatetimeField(null=True)
    # Since when every attempt failed (None after a success): an endpoint failing long enough is disabled.
    failing_since = fields.DatetimeField(null=True)
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "webhook_endpoints"
        indexes = (("created", "id"),)


class WebhookDelivery(StripeObject):
    """Status: pending (next_attempt_at set) | succeeded | failed (retries ran out) | canceled (the endpoint
    was disabled or deleted first). A worker takes a delivery by a lease (lease_token until lease_until)."""

    event = fields.ForeignKeyField("models.Event", related_name="webhook_deliveries", on_delete=fields.RESTRICT)
    endpoint = fields.ForeignKeyField("models.WebhookEndpoint", related_name="deliveries", on_delete=fields.RESTRICT)
    status = fields.CharField(max_length=20, default="pending")
    attempts = fields.IntField(default=0)
    # [{"at": iso, "status_code": int | None, "error": str | None, "duration_ms": int}], oldest first
    attempt_log = fields.JSONField(default=list)
    last_status_code = fields.IntField(null=True)
    last_error = fields.CharField(max_length=1000, null=True)
    next_attempt_at = fields.DatetimeField(null=True, db_index=True)
    lease_token = fields.CharField(max_length=32, null=True)
    lease_until = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_deliveries"
        unique_together = (("event", "endpoint"),)
        indexes = (("endpoint_id", "created", "id"), ("status", "next_attempt_at"))
