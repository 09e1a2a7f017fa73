from tortoise import migrations
from tortoise.migrations import operations as ops
from app.clock import utcnow
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_customer_sessions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='UsageRecord',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('created', fields.DatetimeField(default=utcnow, auto_now=False, auto_now_add=False)),
                ('subscription_item', fields.ForeignKeyField('models.SubscriptionItem', source_field='subscription_item_id', db_constraint=True, to_field='id', related_name='usage_records', on_delete=OnDelete.CASCADE)),
                ('quantity', fields.BigIntField()),
                ('action', fields.CharField(max_length=16)),
                ('timestamp', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'usage_records', 'app': 'models', 'indexes': [Index(fields=['subscription_item_id', 'timestamp'])], 'pk_attr': 'id', 'table_description': 'One createUsageRecord call, as reported: the audit trail. Billing reads UsageTotal.'},
            bases=['StripeObject'],
        ),
        ops.CreateModel(
            name='UsageTotal',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subscription_item', fields.ForeignKeyField('models.SubscriptionItem', source_field='subscription_item_id', db_constraint=True, to_field='id', related_name='usage_totals', on_delete=OnDelete.CASCADE)),
                ('timestamp', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('quantity', fields.BigIntField()),
            ],
            options={'table': 'usage_totals', 'app': 'models', 'unique_together': (('subscription_item', 'timestamp'),), 'pk_attr': 'id', 'table_description': 'The usage of one item at one timestamp: an INCREMENT adds to it, a SET replaces it.'},
            bases=['Model'],
        ),
    ]
