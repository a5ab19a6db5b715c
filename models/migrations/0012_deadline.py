from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0011_queued_by_account')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Contract',
            name='deadline',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
