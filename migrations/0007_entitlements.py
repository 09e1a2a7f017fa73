from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from app.clock import utcnow
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_webhooks')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ActiveEntitlement',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('created', fields.DatetimeField(default=utcnow, auto_now=False, auto_now_add=False)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='active_entitlements', on_delete=OnDelete.CASCADE)),
                ('feature', fields.ForeignKeyField('models.Feature', source_field='feature_id', db_constraint=True, to_field='id', related_name='active_entitlements', on_delete=OnDelete.RESTRICT)),
                ('lookup_key', fields.CharField(max_length=80)),
            ],
            options={'table': 'active_entitlements', 'app': 'models', 'unique_together': (('customer', 'feature'),), 'indexes': [Index(fields=['customer_id', 'created', 'id'])], 'pk_attr': 'id', 'table_description': "One feature a customer may use now (Stripe's entitlements.active_entitlement)."},
            bases=['StripeObject'],
        ),
        ops.CreateModel(
            name='EntitlementLock',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.OneToOneField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='entitlement_lock', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'entitlement_locks', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One row per customer, locked while its entitlements are recomputed, so concurrent recomputes of one'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SubscriptionFeatures',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subscription', fields.OneToOneField('models.Subscription', source_field='subscription_id', db_constraint=True, to_field='id', related_name='features_snapshot', on_delete=OnDelete.CASCADE)),
                ('period_start', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('products', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'subscription_features', 'app': 'models', 'pk_attr': 'id', 'table_description': "The features a subscription grants during its current period: each product's features as they were"},
            bases=['Model'],
        ),
    ]
