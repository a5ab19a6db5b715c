"""Drop the recipients → contracts foreign key on PostgreSQL.

The model says `db_constraint=False`, but tortoise 1.1.9's migrations create the constraint anyway.
Its per-row check nearly doubled the time of COPYing a big contract's recipients. SQLite keeps it
(dropping one there means rebuilding the table; its check is cheap).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


async def drop_fk(apps, schema_editor) -> None:
    if schema_editor.DIALECT == "postgres":
        await schema_editor.client.execute_script(
            "ALTER TABLE recipients DROP CONSTRAINT IF EXISTS recipients_contract_id_fkey"
        )


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [ops.RunPython(drop_fk, ops.RunPython.noop)]
