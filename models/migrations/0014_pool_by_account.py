from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """The contracts of an account, found by account: a driver lists them on each pass (without the
    index, a scan of every pool's rows, which at 10,000 accounts kept the database busy)."""

    dependencies = [('models', '0013_health')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='PoolMember',
            index=Index(fields=['account_id']),
        ),
    ]
