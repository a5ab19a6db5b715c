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
