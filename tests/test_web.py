"""The real web process (NiceGUI + API on one app) and the one-command embedded run."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError

from tests.conftest import API_KEY, wait_until
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
