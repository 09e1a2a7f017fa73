from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_proration_discounts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BillingAlertBaseline',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('alert', fields.ForeignKeyField('models.BillingAlert', source_field='alert_id', db_constraint=True, to_field='id', related_name='baselines', on_delete=OnDelete.CASCADE)),
                ('customer_id', fields.CharField(max_length=64)),
                ('sum', fields.DecimalField(max_digits=32, decimal_places=12)),
                ('count', fields.BigIntField()),
            ],
            options={'table': 'billing_alert_baselines', 'app': 'models', 'unique_together': (('alert', 'customer_id'),), 'pk_attr': 'id', 'table_description': "A customer's SUM and COUNT on the alert's meter when the alert was created: only what is reported"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='BillingAlert',
            name='since_ordinal',
            field=fields.BigIntField(default=0),
        ),
    ]
