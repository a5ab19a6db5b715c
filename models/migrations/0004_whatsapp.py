from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import AccountStatus
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_status_counts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='KnownNumber',
            fields=[
                ('phone_number', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=20)),
                ('on_whatsapp', fields.BooleanField()),
                ('checked_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'known_numbers', 'app': 'models', 'pk_attr': 'phone_number', 'table_description': "The cached answer of WhatsApp's is-on-WhatsApp check, so a number is asked about once."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OptOut',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account_id', fields.CharField(max_length=40)),
                ('phone_number', fields.CharField(max_length=20)),
                ('reason', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'opt_outs', 'app': 'models', 'unique_together': (('account_id', 'phone_number'),), 'pk_attr': 'id', 'table_description': 'A number that asked an account to stop (a STOP reply, or added by staff): never sent to again.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Account',
            name='status',
            field=fields.CharEnumField(default=AccountStatus.CONNECTED, description='PAIRING: PAIRING\nCONNECTED: CONNECTED\nDISCONNECTED: DISCONNECTED\nLOGGED_OUT: LOGGED_OUT\nBANNED: BANNED', enum_type=AccountStatus, max_length=20),
        ),
        ops.AddField(
            model_name='Account',
            name='device_jid',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Account',
            name='pair_code',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='Account',
            name='pair_phone',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='Account',
            name='phone',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='Account',
            name='push_name',
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name='Account',
            name='qr_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Account',
            name='qr_code',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Account',
            name='resend_uncertain',
            field=fields.BooleanField(default=True),
        ),
        ops.AddField(
            model_name='Account',
            name='status_reason',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Contract',
            name='delivered_count',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Contract',
            name='paused_reason',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Contract',
            name='read_count',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Contract',
            name='uncertain_count',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Recipient',
            name='delivered_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Recipient',
            name='network_id',
            field=fields.CharField(null=True, max_length=128),
        ),
        ops.RunSQL(
            "CREATE INDEX recipients_network_id ON recipients (network_id) WHERE network_id IS NOT NULL",
            reverse_sql="DROP INDEX recipients_network_id",
        ),
        ops.AddField(
            model_name='Recipient',
            name='read_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
