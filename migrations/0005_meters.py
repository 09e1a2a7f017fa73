from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from app.clock import utcnow
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_credit_grants')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Meter',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('created', fields.DatetimeField(default=utcnow, auto_now=False, auto_now_add=False)),
                ('display_name', fields.CharField(max_length=250)),
                ('event_name', fields.CharField(unique=True, max_length=100)),
                ('status', fields.CharField(default='active', max_length=16)),
                ('formula', fields.CharField(max_length=8)),
                ('customer_payload_key', fields.CharField(default='stripe_customer_id', max_length=100)),
                ('value_payload_key', fields.CharField(default='value', max_length=100)),
                ('updated', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'meters', 'app': 'models', 'pk_attr': 'id'},
            bases=['StripeObject'],
        ),
        ops.CreateModel(
            name='BillingAlert',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('created', fields.DatetimeField(default=utcnow, auto_now=False, auto_now_add=False)),
                ('title', fields.CharField(max_length=256)),
                ('status', fields.CharField(default='active', max_length=16)),
                ('meter', fields.ForeignKeyField('models.Meter', source_field='meter_id', db_constraint=True, to_field='id', related_name='alerts', on_delete=OnDelete.RESTRICT)),
                ('gte', fields.BigIntField()),
                ('customer_id', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'billing_alerts', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A one-time usage threshold (gte) on a meter, for one customer or for all.'},
            bases=['StripeObject'],
        ),
        ops.CreateModel(
            name='BillingAlertTrigger',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('alert', fields.ForeignKeyField('models.BillingAlert', source_field='alert_id', db_constraint=True, to_field='id', related_name='triggers', on_delete=OnDelete.CASCADE)),
                ('customer_id', fields.CharField(max_length=64)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'billing_alert_triggers', 'app': 'models', 'unique_together': (('alert', 'customer_id'),), 'pk_attr': 'id', 'table_description': 'That an alert fired for a customer: the unique pair makes `billing.alert.triggered` once per both.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MeterEvent',
            fields=[
                ('identifier', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=100)),
                ('event_name', fields.CharField(max_length=100)),
                ('meter_id', fields.CharField(max_length=64)),
                ('customer_id', fields.CharField(max_length=64)),
                ('value', fields.DecimalField(max_digits=32, decimal_places=12)),
                ('timestamp', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ordinal', fields.BigIntField()),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('canceled', fields.BooleanField(default=False)),
            ],
            options={'table': 'meter_events', 'app': 'models', 'indexes': [Index(fields=['meter_id', 'customer_id', 'timestamp'])], 'pk_attr': 'identifier', 'table_description': "One stored event. The identifier is the primary key: the database's final word on duplicates."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MeterEventAdjustment',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('created', fields.DatetimeField(default=utcnow, auto_now=False, auto_now_add=False)),
                ('event_name', fields.CharField(max_length=100)),
                ('cancel_identifier', fields.CharField(db_index=True, max_length=100)),
                ('status', fields.CharField(default='pending', db_index=True, max_length=16)),
            ],
            options={'table': 'meter_event_adjustments', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A cancellation of one event by identifier: PENDING until the event is stored and canceled.'},
            bases=['StripeObject'],
        ),
        ops.CreateModel(
            name='MeterUsageMinute',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('meter_id', fields.CharField(max_length=64)),
                ('customer_id', fields.CharField(max_length=64)),
                ('minute', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sum', fields.DecimalField(max_digits=32, decimal_places=12)),
                ('count', fields.BigIntField()),
                ('last_timestamp', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_ordinal', fields.BigIntField(null=True)),
                ('last_value', fields.DecimalField(null=True, max_digits=32, decimal_places=12)),
            ],
            options={'table': 'meter_usage_minutes', 'app': 'models', 'unique_together': (('meter_id', 'customer_id', 'minute'),), 'pk_attr': 'id', 'table_description': 'The events of one meter and customer in one UTC minute: sum, count and the last value (the'},
            bases=['Model'],
        ),
    ]
