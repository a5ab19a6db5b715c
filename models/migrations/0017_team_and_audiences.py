from tortoise import migrations
from tortoise.migrations import operations as ops
from models.audience import _audience_id
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    """Users with roles, invited by one-time links; saved recipient lists (audiences); the wizard's draft.
    Every user so far is the installation's first, an admin, and the installation has its row."""
    dependencies = [('models', '0016_user_preferences')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Audience',
            fields=[
                ('id', fields.CharField(primary_key=True, default=_audience_id, unique=True, db_index=True, max_length=40)),
                ('name', fields.CharField(null=True, max_length=200)),
                ('tags', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('owner', fields.CharField(max_length=100)),
                ('file_name', fields.CharField(default='', max_length=255)),
                ('columns', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('row_count', fields.IntField()),
                ('codec', fields.CharField(max_length=32)),
                ('delimiter', fields.CharField(max_length=4)),
                ('skip', fields.IntField()),
                ('size', fields.BigIntField()),
                ('content', fields.BinaryField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'audiences', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Recipients as a file brought them (services/audiences.py): a saved list with a name and tags,'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Invite',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('role', fields.CharField(max_length=16)),
                ('note', fields.CharField(default='', max_length=200)),
                ('created_by', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_by', fields.CharField(null=True, max_length=100)),
            ],
            options={'table': 'invites', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A one-time link that lets whoever opens it create a user with `role` (services/team.py).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='User',
            name='role',
            field=fields.CharField(default='operator', db_default='operator', max_length=16),
        ),
        ops.AddField(
            model_name='User',
            name='wizard_draft',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.RunSQL("UPDATE users SET role = 'admin'", reverse_sql="SELECT 1"),
        # Installations claimed before 0006 have no installation row, which changes of role lock.
        ops.RunSQL(
            "INSERT INTO installation (id, claimed_by, claimed_at) "
            "SELECT 1, MIN(username), CURRENT_TIMESTAMP FROM users "
            "WHERE NOT EXISTS (SELECT 1 FROM installation) HAVING COUNT(*) > 0",
            reverse_sql="SELECT 1",
        ),
    ]
