"""Database lifecycle: connect, apply migrations; what "the database is away" looks like."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
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
    asyncpg.exceptions.InsufficientResourcesError,  # "too many clients", out of disk or memory
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


PRIVATE_FOLDERS = ("nicegui", "appendonlydir")  # NiceGUI's storage; Redis 7's append-only files


@lru_cache
def private_data_dir() -> Path:
    """The data folder, created 0700, and what an older install left readable by others tightened.

    It holds password hashes, phone numbers, messages, the API key and WhatsApp device keys, so only
    its owner may read it. Each entry point also sets the umask to 077, so what is created later is
    private too. The SQLite files beside a database kept elsewhere (DATABASE_URL) are tightened too."""
    s = get_settings()
    s.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Its own files and the folders the product writes; never a walk of whatever else is there.
    found = [s.data_dir, *(p for p in s.data_dir.iterdir() if p.is_file())]
    for ours in PRIVATE_FOLDERS:
        if (s.data_dir / ours).is_dir():
            found += [s.data_dir / ours, *(s.data_dir / ours).rglob("*")]
    if s.db_url.startswith("sqlite://"):
        ours = Path(s.db_url.removeprefix("sqlite://").split("?")[0])
        found += [*ours.parent.glob(ours.name + "*"), *ours.parent.glob("whatsapp-sessions.sqlite3*")]
    for path in found:
        try:
            mode = path.lstat().st_mode
            if mode & 0o077 and not stat.S_ISLNK(mode):
                os.chmod(path, stat.S_IMODE(mode) & 0o700)
        except OSError as exc:
            log.warning("could not make %s private: %s", path, exc)
    return s.data_dir


class PooledConnection(asyncpg.Connection):
    """A PostgreSQL connection given back to the pool without asyncpg's reset query (RESET ALL,
    UNLISTEN *, CLOSE ALL, advisory unlocks): the product sets no session state, and that query was
    one more round trip after every statement, a tenth of a worker's time with thousands of paced
    accounts. An open transaction is still rolled back."""

    def get_reset_query(self) -> str:
        return ""


def _config(db_url: str | None) -> dict:
    config = tortoise_config(db_url)
    url = config["connections"]["default"]
    if url.startswith("postgres://"):
        expanded = expand_db_url(url)
        expanded["credentials"]["connection_class"] = PooledConnection
        config["connections"]["default"] = expanded
    return config


async def init_db(db_url: str | None = None) -> None:
    if db_url is None:
        private_data_dir()
    await Tortoise.init(config=_config(db_url), _enable_global_fallback=True)


async def migrate_db(db_url: str | None = None) -> None:
    """Bring the schema to the latest migration (models/migrations)."""
    if db_url is None:
        private_data_dir()
    await migrate(config=_config(db_url))
    await Tortoise.close_connections()


async def close_db() -> None:
    await Tortoise.close_connections()
