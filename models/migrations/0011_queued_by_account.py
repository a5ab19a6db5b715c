from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Rows waiting for one account of a pool (a retry, or rows handed back after a crash), found by
    account when failover gives them to the rest of the pool. Partial, so a contract's start (every
    row QUEUED, nobody's) and the claims of rows nobody holds do not write to it."""

    dependencies = [("models", "0010_quiet_hours")]

    initial = False

    operations = [
        ops.RunSQL(
            "CREATE INDEX IF NOT EXISTS recipients_queued_by_account ON recipients (account_id) "
            "WHERE status = 'QUEUED' AND account_id IS NOT NULL",
            reverse_sql="DROP INDEX IF EXISTS recipients_queued_by_account",
        ),
    ]
