from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """Accounts found by lease token: a worker renews the leases of all the accounts it drives every
    few seconds, a statement per 500 tokens (without the index, a scan of every account each)."""

    dependencies = [('models', '0014_pool_by_account')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Account',
            index=Index(fields=['lease_owner']),
        ),
    ]
