from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    """The language and time zone each dashboard user chose."""

    dependencies = [('models', '0015_lease_owner_index')]

    initial = False

    operations = [
        ops.AddField(
            model_name='User',
            name='language',
            field=fields.CharField(null=True, max_length=8),
        ),
        ops.AddField(
            model_name='User',
            name='time_zone',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
