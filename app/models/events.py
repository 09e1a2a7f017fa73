"""Events: the record of every state change, and the outbox for webhooks and live updates."""
from tortoise import fields

from app.models.base import StripeObject


class Event(StripeObject):
    type = fields.CharField(max_length=100, db_index=True)
    object_id = fields.CharField(max_length=64, null=True, db_index=True)
    data = fields.JSONField()
    pending_webhooks = fields.IntField(default=0)
    # False until the event was handed to webhooks and live updates after commit (the outbox).
    dispatched = fields.BooleanField(default=False, db_index=True)

    class Meta:
        table = "events"
        indexes = (("created", "id"),)
