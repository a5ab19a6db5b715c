from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    """Who created each contract (an operator may cancel or delete only their own); null for older ones,
    which only admins may."""

    dependencies = [('models', '0017_team_and_audiences')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Contract',
            name='created_by',
            field=fields.CharField(null=True, max_length=100),
        ),
    ]
