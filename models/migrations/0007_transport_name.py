from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_security')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Account',
            name='transport',
            field=fields.CharField(default='sandbox', max_length=16),
        ),
    ]
