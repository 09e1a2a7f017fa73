from tortoise import migrations
from tortoise.migrations import operations as ops
from app.clock import utcnow
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CustomerSession',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('created', fields.DatetimeField(default=utcnow, auto_now=False, auto_now_add=False)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('digest', fields.CharField(unique=True, max_length=64)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'customer_sessions', 'app': 'models', 'pk_attr': 'id', 'table_description': "A customer's frontend access for 30 minutes: its client secret is stored only as a SHA-256 digest."},
            bases=['StripeObject'],
        ),
    ]
