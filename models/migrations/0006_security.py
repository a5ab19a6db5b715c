from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_dashboard')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdempotencyKey',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=300)),
                ('request_hash', fields.CharField(max_length=64)),
                ('response', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'idempotency_keys', 'app': 'models', 'pk_attr': 'key', 'table_description': "A client's Idempotency-Key on one route, and the first answer (empty while the first request runs)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Installation',
            fields=[
                ('id', fields.IntField(generated=False, primary_key=True, unique=True, db_index=True)),
                ('claimed_by', fields.CharField(max_length=100)),
                ('claimed_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'installation', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The one row (id 1) saying who claimed this installation as its first user.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebSession',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('username', fields.CharField(max_length=100)),
                ('pending', fields.BooleanField(default=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'web_sessions', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A dashboard sign-in, or the one-time ticket (pending) that becomes one.'},
            bases=['Model'],
        ),
    ]
