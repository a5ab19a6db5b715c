"""One scenario's world: a private PostgreSQL and Redis (AOF on), the web process, workers, and
the checks every scenario ends with. Everything listens on 127.0.0.1 and is removed afterwards."""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from bench.harness import Stack
from chaos.postgres import PostgresServer
from cli import WORKER
from tests.servers import Process

FINAL = ("SENT", "FAILED", "SKIPPED")


@dataclass
class Outcome:
    """What the database and the sandbox's delivery log say after a run."""

    recipients: int
    by_status: dict[str, int]
    counts_match_rows: bool
    contracts_completed: int
    contracts: int
    numbers_delivered: int
    numbers_delivered_twice: int
    resends_absorbed: int  # the same message id sent again after a crash; the network keeps one

    @property
    def lost(self) -> int:
        return sum(n for status, n in self.by_status.items() if status not in FINAL)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.numbers_delivered_twice == 0
            and self.counts_match_rows
            and self.contracts_completed == self.contracts
            and self.numbers_delivered == self.by_status.get("SENT", 0)
        )

    def __str__(self) -> str:
        states = ", ".join(f"{k} {v:,}" for k, v in sorted(self.by_status.items()))
        return (
            f"{self.recipients:,} recipients ({states}); not final: {self.lost}; "
            f"delivered {self.numbers_delivered:,}, twice: {self.numbers_delivered_twice}, "
            f"re-sends absorbed by message id: {self.resends_absorbed}; "
            f"kept counts = rows: {self.counts_match_rows}; "
            f"contracts completed {self.contracts_completed}/{self.contracts}"
        )


class World:
    def __init__(self, workers: int = 3, **env: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="wa-chaos-"))
        self.tmp.chmod(0o755)  # the postgres user runs the private cluster inside it
        self.postgres = PostgresServer(self.tmp / "pg").init()
        self.postgres.start()
        self.stack = Stack("postgres", "embedded", pg_admin=self.postgres.admin_url)
        self.stack.env.update(env)
        self.n_workers = workers
        self.workers: list[Process] = []
        self.web_proc: Process | None = None
        self.url = ""
        self.rng = random.Random(7)

    async def __aenter__(self) -> World:
        try:
            await self.stack.__aenter__()
        except BaseException:
            self.postgres.destroy()
            raise
        self.url = self.stack.web()
        self.web_proc = self.stack.processes[-1]
        self.workers = [self.stack.start(WORKER) for _ in range(self.n_workers)]
        self.http = httpx.AsyncClient(base_url=self.url, headers={"X-API-Key": self.stack.key}, timeout=120)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        try:
            await self.stack.__aexit__(*exc)
        finally:
            self.postgres.destroy()

    async def contracts(self, recipients: int, accounts: int, latency_s: float = 0.01) -> list[str]:
        """`recipients` spread over `accounts` sandbox accounts (limits off), created through the API.
        Each send takes `latency_s` on the simulated network, so a run lasts long enough to break."""
        ids = []
        per = recipients // accounts
        for a in range(accounts):
            account = {"name": f"chaos {a}", "useLimits": False, "sandbox": {"latency_s": latency_s}}
            r = await self.http.post("/api/accounts", json=account)
            assert r.status_code == 201, r.text
            body = {
                "accountId": r.json()["id"],
                "name": f"chaos {a}",
                "recipients": [
                    {"phoneNumber": f"79{a:02d}{i:07d}", "message": f"Hi {i}"} for i in range(per)
                ],
            }
            r = await self.http.post("/api/contracts", json=body)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        return ids

    async def start(self, contracts: list[str]) -> None:
        for c in contracts:
            r = await self.http.post(f"/api/contracts/{c}/start")
            assert r.status_code == 200, r.text

    async def sql(self, query: str, *args: object) -> list[asyncpg.Record]:
        """A query on a fresh connection: it works across a database restart."""
        conn = await asyncpg.connect(self.stack.pg_url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    async def sent(self) -> int:
        return (await self.sql("SELECT count(*) FROM recipients WHERE status = 'SENT'"))[0][0]

    async def finished(self, contracts: list[str], timeout: float, during=None) -> float:
        """Wait until every contract is COMPLETED (running `during()` each second); seconds taken."""
        started = time.monotonic()
        while True:
            rows = await self.sql(
                "SELECT count(*) FROM contracts WHERE id = ANY($1) AND status = 'COMPLETED'", contracts
            )
            if rows[0][0] == len(contracts):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(
                    f"not all contracts completed after {timeout:.0f} s: {await self.outcome(contracts)}"
                )
            if during is not None:
                await during()
            await asyncio.sleep(1)

    async def outcome(self, contracts: list[str]) -> Outcome:
        rows = await self.sql(
            "SELECT contract_id, status, count(*) AS n FROM recipients WHERE contract_id = ANY($1) "
            "GROUP BY contract_id, status",
            contracts,
        )
        kept = await self.sql(
            "SELECT contract_id, status, n FROM contract_status_counts "
            "WHERE contract_id = ANY($1) AND n <> 0",
            contracts,
        )
        by_status: dict[str, int] = {}
        for r in rows:
            by_status[r["status"]] = by_status.get(r["status"], 0) + r["n"]
        delivered = await self.sql(
            "SELECT count(*) AS numbers, count(*) - count(DISTINCT (account_id, phone_number)) AS twice, "
            "coalesce(sum(attempts - 1), 0) AS resends FROM sandbox_deliveries d "
            "WHERE EXISTS (SELECT 1 FROM recipients r "
            "WHERE r.message_id = d.message_id AND r.contract_id = ANY($1))",
            contracts,
        )
        done = await self.sql(
            "SELECT count(*) FROM contracts WHERE id = ANY($1) AND status = 'COMPLETED'", contracts
        )
        return Outcome(
            recipients=sum(by_status.values()),
            by_status=by_status,
            counts_match_rows={tuple(r) for r in rows} == {tuple(r) for r in kept},
            contracts_completed=done[0][0],
            contracts=len(contracts),
            numbers_delivered=delivered[0]["numbers"],
            numbers_delivered_twice=delivered[0]["twice"],
            resends_absorbed=delivered[0]["resends"],
        )
