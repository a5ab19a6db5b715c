from enum import StrEnum

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.account import _account_id
from models.contract import _contract_id
from models.enums import ContractStatus, RecipientStatus


class Transport(StrEnum):
    """The transports of this migration's time (accounts now store a registry name: 0007)."""

    SANDBOX = "sandbox"
    WHATSAPP = "whatsapp"
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Account',
            fields=[
                ('id', fields.CharField(primary_key=True, default=_account_id, unique=True, db_index=True, max_length=40)),
                ('name', fields.CharField(default='', max_length=200)),
                ('transport', fields.CharEnumField(default=Transport.SANDBOX, description='SANDBOX: sandbox\nWHATSAPP: whatsapp', enum_type=Transport, max_length=16)),
                ('use_limits', fields.BooleanField(default=True)),
                ('status', fields.CharField(default='CONNECTED', max_length=20)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sandbox_config', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('pacing_state', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('next_due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lease_owner', fields.CharField(null=True, max_length=64)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'accounts', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A sending identity. Pacing state and the worker lease live here so a Redis flush loses neither.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Contract',
            fields=[
                ('id', fields.CharField(primary_key=True, default=_contract_id, unique=True, db_index=True, max_length=40)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='contracts', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(default='', max_length=500)),
                ('status', fields.CharEnumField(default=ContractStatus.PENDING, db_index=True, description='PENDING: PENDING\nQUEUED: QUEUED\nIN_PROGRESS: IN_PROGRESS\nPAUSED: PAUSED\nCOMPLETED: COMPLETED\nFAILED: FAILED\nCANCELLED: CANCELLED', enum_type=ContractStatus, max_length=16)),
                ('total_count', fields.IntField(default=0)),
                ('duplicate_count', fields.IntField(default=0)),
                ('error_message', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'contracts', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Recipient',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contract', fields.ForeignKeyField('models.Contract', source_field='contract_id', db_constraint=False, to_field='id', related_name='recipients', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
                ('phone_number', fields.CharField(max_length=20)),
                ('message', fields.TextField(unique=False)),
                ('status', fields.CharEnumField(default=RecipientStatus.PENDING, description='PENDING: PENDING\nQUEUED: QUEUED\nSENDING: SENDING\nSENT: SENT\nFAILED: FAILED\nSKIPPED: SKIPPED', enum_type=RecipientStatus, max_length=10)),
                ('message_id', fields.CharField(unique=True, max_length=40)),
                ('attempts', fields.IntField(default=0)),
                ('error_message', fields.TextField(null=True, unique=False)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'recipients', 'app': 'models', 'indexes': [Index(fields=['contract_id', 'status', 'id'])], 'pk_attr': 'id', 'table_description': 'One personal message. Moves PENDING → QUEUED → SENDING → SENT | FAILED | SKIPPED.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SandboxDelivery',
            fields=[
                ('message_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('account_id', fields.CharField(db_index=True, max_length=40)),
                ('phone_number', fields.CharField(max_length=20)),
                ('attempts', fields.IntField(default=1)),
                ('delivered_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'sandbox_deliveries', 'app': 'models', 'pk_attr': 'message_id', 'table_description': "The simulated network's log: one row per message id delivered, with how often it was sent."},
            bases=['Model'],
        ),
    ]
