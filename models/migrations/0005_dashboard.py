from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_whatsapp')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SendMinute',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contract_id', fields.CharField(max_length=40)),
                ('minute', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent', fields.IntField(default=0)),
                ('failed', fields.IntField(default=0)),
            ],
            options={'table': 'send_minutes', 'app': 'models', 'unique_together': (('contract_id', 'minute'),), 'pk_attr': 'id', 'table_description': 'Outcomes of one contract in one minute, added to in the transaction that records them.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=100)),
                ('password_hash', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'users', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A dashboard user (marketing staff). The first is created on the login page of a fresh install.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Worker',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('hostname', fields.CharField(max_length=200)),
                ('pid', fields.IntField()),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'workers', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A worker process, as it last reported itself (every reconcile tick).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Contract',
            name='start_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
