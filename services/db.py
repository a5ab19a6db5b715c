"""Database lifecycle: connect, apply migrations; what "the database is away" looks like."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from tortoise import Tortoise
from tortoise.exceptions import DBConnectionError, IntegrityError, OperationalError
from tortoise.migrations.api import migrate

from settings import get_settings, tortoise_config

log = logging.getLogger(__name__)
T = TypeVar("T")

# What a database that restarts, or cannot be reached, raises through Tortoise and asyncpg.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    DBConnectionError,
    OperationalError,
    ConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a pooled connection left mid-operation when the server went away
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
)


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, UNAVAILABLE) and not isinstance(exc, IntegrityError)


async def while_unavailable(op: Callable[[], Awaitable[T]], budget_s: float, what: str) -> T:
    """Run `op`, and again with growing pauses while the database is away, for up to `budget_s`;
    then the last error is raised. For writes whose loss would cost more than the wait."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_s
    pause = 0.1
    while True:
        try:
            return await op()
        except Exception as exc:
            if not is_unavailable(exc) or loop.time() + pause > deadline:
                raise
            log.warning("%s: database unavailable (%s); retrying in %.1f s", what, exc, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)


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
