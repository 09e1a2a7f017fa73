from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from app.clock import utcnow
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_meters')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('created', fields.DatetimeField(default=utcnow, auto_now=False, auto_now_add=False)),
                ('url', fields.CharField(max_length=2048)),
                ('enabled_events', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharField(default='enabled', max_length=20)),
                ('description', fields.CharField(null=True, max_length=5000)),
                ('secret', fields.CharField(max_length=100)),
                ('previous_secret', fields.CharField(null=True, max_length=100)),
                ('previous_secret_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('failing_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deleted', fields.BooleanField(default=False)),
            ],
            options={'table': 'webhook_endpoints', 'app': 'models', 'indexes': [Index(fields=['created', 'id'])], 'pk_attr': 'id'},
            bases=['StripeObject'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('created', fields.DatetimeField(default=utcnow, auto_now=False, auto_now_add=False)),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='webhook_deliveries', on_delete=OnDelete.RESTRICT)),
                ('endpoint', fields.ForeignKeyField('models.WebhookEndpoint', source_field='endpoint_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharField(default='pending', max_length=20)),
                ('attempts', fields.IntField(default=0)),
                ('attempt_log', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('last_status_code', fields.IntField(null=True)),
                ('last_error', fields.CharField(null=True, max_length=1000)),
                ('next_attempt_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('lease_token', fields.CharField(null=True, max_length=32)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_deliveries', 'app': 'models', 'unique_together': (('event', 'endpoint'),), 'indexes': [Index(fields=['endpoint_id', 'created', 'id']), Index(fields=['status', 'next_attempt_at'])], 'pk_attr': 'id', 'table_description': 'Status: pending (next_attempt_at set) | succeeded | failed (retries ran out) | canceled (the endpoint'},
            bases=['StripeObject'],
        ),
    ]
