from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import Signal
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0012_deadline')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AccountSignal',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='signals', on_delete=OnDelete.CASCADE)),
                ('minute', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('kind', fields.CharEnumField(description='RATE_LIMIT: RATE_LIMIT\nDISCONNECT: DISCONNECT', enum_type=Signal, max_length=16)),
                ('n', fields.IntField(default=0)),
            ],
            options={'table': 'account_signals', 'app': 'models', 'unique_together': (('account_id', 'minute', 'kind'),), 'pk_attr': 'id', 'table_description': 'What the network did to an account in one minute: how often it rate-limited or disconnected it.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Account',
            name='health_since',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Account',
            name='pace_factor',
            field=fields.FloatField(default=1.0, db_default=1.0),
        ),
        ops.AddField(
            model_name='SendMinute',
            name='retried',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddIndex(
            model_name='SendMinute',
            index=Index(fields=['minute', 'account_id']),
        ),
    ]
