"""Fixtures: a private Redis, the database chosen by TEST_DATABASE (sqlite | postgres), the API app,
and real worker processes. Run the suite once per database (scripts/test does)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["nicegui.testing.user_plugin"]

TMP = Path(tempfile.mkdtemp(prefix="wa-tests-"))
BACKEND = os.environ.get("TEST_DATABASE", "sqlite")
PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
API_KEY = "test-key-" + uuid.uuid4().hex


def _database_url() -> str:
    if BACKEND == "sqlite":
        return f"sqlite://{TMP / 'wa.sqlite3'}"
    if BACKEND == "postgres":
        name = f"wa_test_{os.getpid()}"
        base = PG_ADMIN.rsplit("/", 1)[0]
        return f"{base}/{name}"
    raise RuntimeError(f"TEST_DATABASE must be sqlite or postgres, not {BACKEND}")


def pytest_configure(config: pytest.Config) -> None:
    from tests.servers import RedisServer

    redis = RedisServer(TMP / "redis")
    redis.start()
    config.redis_server = redis  # type: ignore[attr-defined]
    os.environ.update(
        REDIS_URL=redis.url,
        DATABASE_URL=_database_url(),
        API_SECRET_KEY=API_KEY,
        DATA_DIR=str(TMP / "data"),
        QUEUE_NAME=f"wa-test-{uuid.uuid4().hex[:8]}",
        MAX_RECIPIENTS="20000",
        MAX_BODY_BYTES=str(4 * 1024 * 1024),
        MAX_JSON_BODY_BYTES=str(2 * 1024 * 1024),
        TASK_BUDGET_S="2",
        LEASE_TTL_S="5",
        STREAM_IDLE_TIMEOUT_S="20",
        RETRY_BACKOFF_S="0.05",
        TRANSPORT_PLUGINS='["tests.echo_transport"]',
        # Quiet hours off (00:00 to 00:00 is the whole day), so the suite sends at any hour it runs;
        # tests of quiet hours give their contracts a window of their own.
        SEND_WINDOW_START="00:00",
        SEND_WINDOW_END="00:00",
        ECHO_TRANSPORT_LOG=str(TMP / "echo-deliveries.jsonl"),
    )
    if BACKEND == "postgres":
        asyncio.run(_create_pg_database())


def pytest_unconfigure(config: pytest.Config) -> None:
    redis = getattr(config, "redis_server", None)
    if redis and redis.proc:
        redis.kill()
    if BACKEND == "postgres":
        asyncio.run(_drop_pg_database())
    shutil.rmtree(TMP, ignore_errors=True)


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN.replace("postgres://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _create_pg_database() -> None:
    name = _database_url().rsplit("/", 1)[1]
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}"')


async def _drop_pg_database() -> None:
    name = _database_url().rsplit("/", 1)[1]
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_server(pytestconfig: pytest.Config):
    return pytestconfig.redis_server  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[str]:
    from models.db import close_db, init_db, migrate_db

    await migrate_db()
    await init_db()
    yield BACKEND
    await close_db()


TABLES = (
    "account_signals",
    "sandbox_deliveries",
    "opt_outs",
    "known_numbers",
    "send_minutes",
    "workers",
    "users",
    "invites",
    "audiences",
    "installation",
    "web_sessions",
    "idempotency_keys",
    "contract_status_counts",
    "contract_accounts",
    "recipients",
    "contracts",
    "accounts",
)


@pytest.fixture
async def db(database: str) -> AsyncIterator[str]:
    """A clean database for each test (same schema, emptied)."""
    from models.sql import execute

    for table in TABLES:
        await execute(f"DELETE FROM {table}", [])
    yield database


@pytest.fixture(scope="session")
async def broker_started(database: str) -> AsyncIterator[None]:
    from services.queue import broker

    await broker.startup()
    yield
    await broker.shutdown()


@pytest.fixture
async def client(db: str, broker_started: None) -> AsyncIterator:
    """An HTTP client on the API app in this process, with the key; `client.anon` has none."""
    import httpx
    from fastapi import FastAPI

    import api.app

    app = FastAPI()
    api.app.install(app)
    transport = httpx.ASGITransport(app=app)
    headers = {"X-API-Key": API_KEY}
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c,
        httpx.AsyncClient(transport=transport, base_url="http://test") as anon,
    ):
        c.anon = anon  # type: ignore[attr-defined]
        yield c


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable]:
    """Start worker processes; all are stopped after the test."""
    from tests import servers

    started: list[servers.Process] = []

    def start(kind: str, **env: str) -> servers.Process:
        assert kind == "worker"
        proc = servers.worker({**os.environ, **env}, tmp_path / f"{kind}-{len(started)}.log").start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def fresh_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sign-in's throttles with nothing counted yet."""
    from services import signin
    from services.throttle import Throttle

    monkeypatch.setattr(signin, "throttle", Throttle())
    every = signin.UNTRIED_EVERY_S
    monkeypatch.setattr(signin, "untried", Throttle(free=0, base_s=every, most_s=every))


@pytest.fixture
def settings_env(monkeypatch):
    """Sets settings from the environment for one test (get_settings is cached: cleared around it)."""
    from settings import get_settings

    def set_env(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name.upper(), str(value))
        get_settings.cache_clear()

    yield set_env
    monkeypatch.undo()
    get_settings.cache_clear()


async def wait_until(predicate: Callable, timeout: float = 30, interval: float = 0.1, what: str = "") -> None:
    """Poll an async predicate until it is true; fail with `what` after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await predicate():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(interval)


@pytest.fixture
def web(db, tmp_path: Path) -> Iterator[str]:
    """The real web process (NiceGUI + API) on a free port, on this test's database and Redis."""
    from tests.servers import Process, free_port, wait_for_port

    port = free_port()
    proc = Process(["main.py"], {**os.environ, "PORT": str(port)}, tmp_path / "web.log").start()
    wait_for_port(port, timeout=30)
    yield f"http://127.0.0.1:{port}"
    proc.stop()


_submitting: set[asyncio.Task] = set()
FORM_POST = re.compile(r"const form = .*?action: (\"[^\"]*\").*?Object\.entries\((\{.*?\})\)", re.S)


def _posting_forms(user: Any) -> Any:
    """Pages sign in and out by a form POST their JavaScript submits (ui/frame.py: post_from_page),
    which NiceGUI's simulated user does not run: submit it as the browser would, from this site,
    and open where it leads."""

    async def submit(path: str, fields: dict[str, str]) -> None:
        r = await user.http_client.post(path, data=fields, headers={"Origin": "http://test"})
        assert r.status_code == 303, r.text
        await user.open(r.headers["location"])

    def rule(match: re.Match) -> None:
        task = asyncio.get_running_loop().create_task(submit(json.loads(match[1]), json.loads(match[2])))
        _submitting.add(task)
        task.add_done_callback(_submitting.discard)

    user.javascript_rules[FORM_POST] = rule
    return user


@pytest.fixture
def user(user: Any) -> Any:
    """NiceGUI's simulated user, submitting the forms pages POST."""
    return _posting_forms(user)


@pytest.fixture
def create_user(create_user: Callable[[], Any]) -> Callable[[], Any]:
    return lambda: _posting_forms(create_user())
