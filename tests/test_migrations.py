"""The schema comes from migrations (models/migrations), and they must match the models."""

from __future__ import annotations

from tortoise.cli.cli import tortoise_cli_context
from tortoise.migrations.autodetector import MigrationAutodetector

from settings import tortoise_config


async def test_migrations_cover_every_model_change() -> None:
    config = tortoise_config("sqlite://:memory:")
    async with tortoise_cli_context(config) as ctx:
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    pending = [op for w in writers for op in w.operations]
    assert pending == [], "run: tortoise -c models.cli_config.TORTOISE_ORM makemigrations"
