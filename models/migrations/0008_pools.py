from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

# send_minutes becomes unique per contract, account and minute. SQLite cannot drop a table's own
# constraint (and tortoise's RemoveConstraint looks for an index of that name), so it is rebuilt there.
SQLITE_REKEY = """
CREATE TABLE "send_minutes_rekeyed" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "contract_id" VARCHAR(40) NOT NULL,
    "minute" TIMESTAMP NOT NULL,
    "sent" INT NOT NULL,
    "failed" INT NOT NULL,
    "account_id" VARCHAR(40),
    CONSTRAINT "uid_send_minutes_contract_account_minute" UNIQUE ("contract_id", "account_id", "minute")
);
INSERT INTO "send_minutes_rekeyed" ("id", "contract_id", "minute", "sent", "failed", "account_id")
    SELECT "id", "contract_id", "minute", "sent", "failed", "account_id" FROM "send_minutes";
DROP TABLE "send_minutes";
ALTER TABLE "send_minutes_rekeyed" RENAME TO "send_minutes";
"""


async def rekey_send_minutes(apps, schema_editor) -> None:
    # One statement at a time: executescript would commit the migration's transaction first.
    client = schema_editor.client
    if client.capabilities.dialect == "sqlite":
        for statement in SQLITE_REKEY.split(";"):
            if statement.strip():
                await client.execute_query(statement)
        return
    old = await client.execute_query(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'send_minutes'::regclass AND contype = 'u'"
    )
    names = [row["conname"] for row in old[1]]
    if len(names) != 1:
        raise RuntimeError(f"send_minutes: expected one unique constraint, found {names}")
    await client.execute_query(f'ALTER TABLE "send_minutes" DROP CONSTRAINT "{names[0]}"')
    await client.execute_query(
        'ALTER TABLE "send_minutes" ADD CONSTRAINT "uid_send_minutes_contract_account_minute" '
        'UNIQUE ("contract_id", "account_id", "minute")'
    )


class Migration(migrations.Migration):
    dependencies = [('models', '0007_transport_name')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PoolMember',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contract', fields.ForeignKeyField('models.Contract', source_field='contract_id', db_constraint=True, to_field='id', related_name='pool', on_delete=OnDelete.CASCADE)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='pools', on_delete=OnDelete.RESTRICT)),
                ('position', fields.IntField(default=0)),
                ('sent', fields.IntField(default=0)),
                ('failed', fields.IntField(default=0)),
                ('skipped', fields.IntField(default=0)),
                ('turn_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'contract_accounts', 'app': 'models', 'unique_together': (('contract_id', 'account_id'),), 'pk_attr': 'id', 'table_description': "An account in a contract's pool (the contract's own account is the first), and what it has sent"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Account',
            name='paused_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Account',
            name='status_since',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Recipient',
            name='account_id',
            field=fields.CharField(null=True, max_length=40),
        ),
        ops.AlterModelOptions(
            name='SendMinute',
            options={'table': 'send_minutes', 'app': 'models', 'unique_together': (('contract_id', 'account_id', 'minute'),), 'pk_attr': 'id', 'table_description': 'Outcomes of one contract by one account in one minute, added to in the transaction that'},
        ),
        ops.AddField(
            model_name='SendMinute',
            name='account_id',
            field=fields.CharField(null=True, max_length=40),
        ),
        ops.RunPython(rekey_send_minutes),
        # Every existing contract: a pool of its own account, with what it has sent so far; rows a
        # worker was sending belong to that account (a crash is settled by the account that sent them).
        ops.RunSQL(
            "INSERT INTO contract_accounts (contract_id, account_id, position, turn_at, sent, failed, skipped) "
            "SELECT c.id, c.account_id, 0, CURRENT_TIMESTAMP, "
            "COALESCE((SELECT n FROM contract_status_counts s WHERE s.contract_id = c.id AND s.status = 'SENT'), 0), "
            "COALESCE((SELECT n FROM contract_status_counts s WHERE s.contract_id = c.id AND s.status = 'FAILED'), 0), "
            "COALESCE((SELECT n FROM contract_status_counts s WHERE s.contract_id = c.id AND s.status = 'SKIPPED'), 0) "
            "FROM contracts c"
        ),
        ops.RunSQL(
            "UPDATE send_minutes SET account_id = "
            "(SELECT account_id FROM contracts WHERE id = send_minutes.contract_id)"
        ),
        ops.RunSQL(
            "UPDATE recipients SET account_id = (SELECT account_id FROM contracts WHERE id = recipients.contract_id) "
            "WHERE status = 'SENDING'"
        ),
    ]
