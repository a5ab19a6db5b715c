from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import RecipientStatus
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_drop_recipient_contract_fk')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StatusCount',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contract_id', fields.CharField(max_length=40)),
                ('status', fields.CharEnumField(description='PENDING: PENDING\nQUEUED: QUEUED\nSENDING: SENDING\nSENT: SENT\nFAILED: FAILED\nSKIPPED: SKIPPED', enum_type=RecipientStatus, max_length=10)),
                ('n', fields.IntField(default=0)),
            ],
            options={'table': 'contract_status_counts', 'app': 'models', 'unique_together': (('contract_id', 'status'),), 'pk_attr': 'id', 'table_description': "How many of a contract's recipients are in each status: stats read these, not a million rows."},
            bases=['Model'],
        ),
    ]
