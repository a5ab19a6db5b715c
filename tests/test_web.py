"""The real web process (NiceGUI + API on one app) and the one-command embedded run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError

from settings import get_settings
from tests.conftest import API_KEY, BACKEND, wait_until
from tests.helpers import recipients
from tests.servers import Process, free_port, wait_for_port


async def test_one_process_serves_pages_api_and_docs(web) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        assert (await http.get("/health")).json()["status"] == "ok"
        page = await http.get("/", follow_redirects=True)  # to the sign-in page
        assert page.status_code == 200 and "WA Contracts" in page.text
        assert (await http.get("/docs")).status_code == 200
        r = await http.get("/api/queues/status", headers={"Authorization": f"Bearer {API_KEY}"})
        assert r.json()["contracts"] == {"waiting": 0, "active": 0, "completed": 0, "failed": 0}


async def test_every_api_route_in_the_openapi_schema_needs_the_key(web) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        schema = (await http.get("/openapi.json")).json()
        routes = [(m.upper(), p) for p, ops in schema["paths"].items() for m in ops if p.startswith("/api")]
        assert len(routes) >= 13
        for method, path in routes:
            url = path.replace("{contract_id}", "contract_x").replace("{account_id}", "acc_x")
            r = await http.request(method, url, json={})
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.json()["error"]


async def test_one_command_runs_everything_on_embedded_defaults(tmp_path: Path) -> None:
    """`python cli.py run` with no configuration: SQLite and Redis under ./data, a key generated."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "API_SECRET_KEY", "QUEUE_NAME")
    }
    env.update(PORT=str(port), DATA_DIR=str(tmp_path / "data"))
    proc = Process(["cli.py", "run"], env, tmp_path / "run.log").start()
    try:
        wait_for_port(port, timeout=60)
        key = (tmp_path / "data" / "api_key").read_text().strip()
        assert key in (tmp_path / "run.log").read_text(), "the generated key is printed at start"
        assert (tmp_path / "data" / "wa.sqlite3").exists()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}) as http:
            account = (await http.post("/api/accounts", json={"useLimits": False})).json()["id"]
            body = {"accountId": account, "name": "embedded", "recipients": recipients(50)}
            contract = (await http.post("/api/contracts", json=body)).json()["id"]
            assert (await http.post(f"/api/contracts/{contract}/start")).status_code == 200

            async def completed() -> bool:
                return (await http.get(f"/api/contracts/{contract}/stats")).json()["success"] == 50

            await wait_until(completed, timeout=60, what="the embedded worker to send")
        aof = list((tmp_path / "data").glob("appendonly*"))
        assert aof, "the embedded Redis keeps an append-only file in the data folder"
        redis_port = int(
            re.search(r"embedded Redis on 127\.0\.0\.1:(\d+)", (tmp_path / "run.log").read_text())[1]
        )
        async with Redis(port=redis_port) as stranger:  # another local user, without the password
            with pytest.raises(AuthenticationError):
                await stranger.ping()
    finally:
        proc.stop()


async def test_health_reports_each_dependency(client, redis_server) -> None:
    r = await client.anon.get("/health")
    assert (r.status_code, r.json()) == (200, {"status": "ok", "database": "ok", "redis": "ok"})
    redis_server.kill()
    try:
        r = await client.anon.get("/health")
        assert r.status_code == 503
        assert r.json()["status"] == "degraded" and r.json()["database"] == "ok"
        assert r.json()["redis"] == "unavailable"  # what failed is logged, not told to anyone
    finally:
        redis_server.start()


@contextlib.asynccontextmanager
async def write_held_elsewhere() -> AsyncIterator[None]:
    """A write transaction held open by another connection, as a long import's is while it commits."""
    url = get_settings().db_url
    if BACKEND == "sqlite":
        other = sqlite3.connect(url.removeprefix("sqlite://").split("?")[0], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # SQLite's one write lock
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    other = await asyncpg.connect(url.replace("postgres://", "postgresql://").split("?")[0])
    try:
        async with other.transaction():
            await other.execute("LOCK TABLE contracts IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await other.close()


async def test_health_answers_while_a_write_holds_the_database(web) -> None:
    """Before: on SQLite, a write waiting for the lock held the web process's one connection, and
    /health, queued behind it, answered 503 for as long as the lock was held."""
    async with httpx.AsyncClient(base_url=web, headers={"X-API-Key": API_KEY}, timeout=5) as http:
        account = (await http.post("/api/accounts", json={})).json()["id"]
        async with write_held_elsewhere():
            body = {"accountId": account, "recipients": recipients(1)}
            waiting = asyncio.create_task(http.post("/api/contracts", json=body, timeout=60))
            await asyncio.sleep(1)
            assert not waiting.done(), "the write waits for the lock"
            for _ in range(3):
                r = await http.get("/health")  # within the client's 5 s
                assert (r.status_code, r.json()) == (200, {"status": "ok", "database": "ok", "redis": "ok"})
                await asyncio.sleep(2)
            assert not waiting.done(), "the lock was held all along"
        assert (await waiting).status_code == 201
