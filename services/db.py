"""Database lifecycle: connect, apply migrations."""

from __future__ import annotations

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from settings import get_settings, tortoise_config


async def init_db(db_url: str | None = None) -> None:
    if db_url is None:
        get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    await Tortoise.init(config=tortoise_config(db_url), _enable_global_fallback=True)


async def migrate_db(db_url: str | None = None) -> None:
    """Bring the schema to the latest migration (models/migrations)."""
    if db_url is None:
        get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    await migrate(config=tortoise_config(db_url))
    await Tortoise.close_connections()


async def close_db() -> None:
    await Tortoise.close_connections()
