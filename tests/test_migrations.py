"""The schema comes from migrations (models/migrations), and they must match the models."""

from __future__ import annotations

import subprocess
import sys

from tests.servers import ROOT

# Run in a process of its own: tortoise's CLI context replaces this process's global ORM context.
PENDING_OPERATIONS = """
import asyncio
from tortoise.cli.cli import tortoise_cli_context
from tortoise.migrations.autodetector import MigrationAutodetector
from settings import tortoise_config

async def main():
    config = tortoise_config("sqlite://:memory:")
    async with tortoise_cli_context(config) as ctx:
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    print(sum(len(w.operations) for w in writers))

asyncio.run(main())
"""


def test_migrations_cover_every_model_change() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PENDING_OPERATIONS], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "0", "run: tortoise -c models.cli_config.TORTOISE_ORM makemigrations"


# Data written at 0007 (one account per contract), then the pools migration: each contract becomes a
# pool of its account with what it sent so far, and a row a worker was sending belongs to that account.
POOLS_MIGRATION = """
import asyncio, sys
from tortoise import Tortoise
from tortoise.migrations.api.migrate import migrate
from models.sql import execute
from settings import tortoise_config

ROWS = [
    ("INSERT INTO accounts (id, name, transport, use_limits, status, resend_uncertain, created_at, "
     "sandbox_config, pacing_state) VALUES ('acc_a', 'a', 'sandbox', TRUE, 'CONNECTED', TRUE, "
     "CURRENT_TIMESTAMP, '{}', '{}')"),
    ("INSERT INTO contracts (id, account_id, name, status, total_count, duplicate_count, delivered_count, "
     "read_count, uncertain_count, created_at, updated_at) VALUES ('contract_c', 'acc_a', 'c', "
     "'IN_PROGRESS', 3, 0, 0, 0, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
    ("INSERT INTO contract_status_counts (contract_id, status, n) VALUES ('contract_c', 'SENT', 1), "
     "('contract_c', 'FAILED', 1), ('contract_c', 'SENDING', 1)"),
    ("INSERT INTO recipients (contract_id, position, phone_number, message, status, message_id, attempts) "
     "VALUES ('contract_c', 0, '79990000001', 'hi', 'SENT', 'm1', 1), "
     "('contract_c', 1, '79990000002', 'hi', 'FAILED', 'm2', 1), "
     "('contract_c', 2, '79990000003', 'hi', 'SENDING', 'm3', 0)"),
    ("INSERT INTO send_minutes (contract_id, minute, sent, failed) VALUES "
     "('contract_c', CURRENT_TIMESTAMP, 1, 1)"),
]

async def main(url):
    config = tortoise_config(url)
    await migrate(config=config, target="models.0007_transport_name")
    await Tortoise.init(config=config)
    for sql in ROWS:
        await execute(sql, [])
    await Tortoise.close_connections()
    await migrate(config=config)
    await Tortoise.init(config=config)
    pool = await execute("SELECT account_id, sent, failed, skipped FROM contract_accounts", [])
    taken = await execute("SELECT status, account_id FROM recipients ORDER BY position", [])
    minutes = await execute("SELECT account_id, sent, failed FROM send_minutes", [])
    print(pool, taken, minutes)
    await Tortoise.close_connections()

asyncio.run(main(sys.argv[1]))
"""


def _on_a_database_of_its_own(script: str, tmp_path) -> str:
    """What `script` prints, run with the URL of a new, empty database of the suite's backend."""
    from tests.conftest import BACKEND, PG_ADMIN, _admin

    url = f"sqlite://{tmp_path / 'old.sqlite3'}"
    if BACKEND == "postgres":
        import asyncio

        name = f"wa_migration_{tmp_path.name[-20:].replace('-', '_')}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    try:
        return subprocess.run(
            [sys.executable, "-c", script, url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    finally:
        if BACKEND == "postgres":
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_the_pools_migration_makes_each_contract_a_pool_of_its_account(tmp_path) -> None:
    pool, taken, minutes = _on_a_database_of_its_own(POOLS_MIGRATION, tmp_path).strip().split("] [")
    assert "'account_id': 'acc_a', 'sent': 1, 'failed': 1, 'skipped': 0" in pool
    assert taken.count("'account_id': None") == 2 and "'status': 'SENDING', 'account_id': 'acc_a'" in taken
    assert "'account_id': 'acc_a', 'sent': 1, 'failed': 1" in minutes


# A user of an installation claimed before it had an installation row, then the team's migration.
TEAM_MIGRATION = """
import asyncio, sys
from tortoise import Tortoise
from tortoise.migrations.api.migrate import migrate
from models.sql import execute
from settings import tortoise_config

async def main(url):
    config = tortoise_config(url)
    await migrate(config=config, target="models.0016_user_preferences")
    await Tortoise.init(config=config)
    await execute(
        "INSERT INTO users (username, password_hash, created_at) VALUES ('anna', 'x', CURRENT_TIMESTAMP)", []
    )
    await Tortoise.close_connections()
    await migrate(config=config)
    await Tortoise.init(config=config)
    print(await execute("SELECT username, role FROM users", []))
    print(await execute("SELECT id, claimed_by FROM installation", []))
    await Tortoise.close_connections()

asyncio.run(main(sys.argv[1]))
"""


def test_the_first_user_becomes_an_admin_and_the_installation_gets_its_row(tmp_path) -> None:
    roles, installation = _on_a_database_of_its_own(TEAM_MIGRATION, tmp_path).strip().splitlines()
    assert roles == "[{'username': 'anna', 'role': 'admin'}]"
    assert installation == "[{'id': 1, 'claimed_by': 'anna'}]"
