from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from app.clock import utcnow
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_usage_records')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CreditGrant',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('created', fields.DatetimeField(default=utcnow, auto_now=False, auto_now_add=False)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='credit_grants', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(null=True, max_length=100)),
                ('amount', fields.BigIntField()),
                ('remaining', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('category', fields.CharField(max_length=16)),
                ('priority', fields.IntField(default=50)),
                ('applicability_price_type', fields.CharField(default='metered', max_length=16)),
                ('effective_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('voided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('test_clock_id', fields.CharField(null=True, max_length=64)),
                ('metadata', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'credit_grants', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'created', 'id'])], 'pk_attr': 'id', 'table_description': '`remaining` is what has not been applied (or voided) yet. It is only ever changed by atomic'},
            bases=['StripeObject'],
        ),
        ops.CreateModel(
            name='CreditBalanceTransaction',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('created', fields.DatetimeField(default=utcnow, auto_now=False, auto_now_add=False)),
                ('credit_grant', fields.ForeignKeyField('models.CreditGrant', source_field='credit_grant_id', db_constraint=True, to_field='id', related_name='balance_transactions', on_delete=OnDelete.RESTRICT)),
                ('customer_id', fields.CharField(db_index=True, max_length=64)),
                ('type', fields.CharField(max_length=8)),
                ('kind', fields.CharField(max_length=40)),
                ('amount', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('invoice_id', fields.CharField(null=True, db_index=True, max_length=64)),
                ('effective_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'credit_balance_transactions', 'app': 'models', 'indexes': [Index(fields=['credit_grant_id', 'created', 'id'])], 'pk_attr': 'id', 'table_description': "Stripe's billing.credit_balance_transaction: a credit (granted, or given back by a voided"},
            bases=['StripeObject'],
        ),
        ops.AddField(
            model_name='Invoice',
            name='total_pretax_credit_amounts',
            field=fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
