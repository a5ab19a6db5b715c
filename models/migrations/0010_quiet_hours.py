from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_warmup')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Contract',
            name='send_window',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Contract',
            name='time_zones',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Recipient',
            name='time_zone',
            field=fields.CharField(null=True, max_length=40),
        ),
    ]
