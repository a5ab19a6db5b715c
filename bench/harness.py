"""What every benchmark needs: a fresh database, Redis, the web process and workers, on 127.0.0.1 only."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import psutil

from tests.servers import Process, RedisServer, free_port, wait_for_port

PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MACHINE_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    p.add_argument("--redis", choices=["machine", "embedded"], default="machine")
    return p


def sending_parser(description: str, messages: int) -> argparse.ArgumentParser:
    """parser() plus the sizes of a sending run: messages, accounts, workers."""
    p = parser(description)
    p.add_argument("--messages", type=int, default=messages)
    p.add_argument("--accounts", type=int, default=20)
    p.add_argument("--workers", type=int, default=2)
    return p


def machine() -> str:
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )


async def _pg(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class Stack:
    """Environment and processes of one benchmark run; everything is torn down on exit."""

    def __init__(self, database: str, redis: str, pg_admin: str = PG_ADMIN) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="wa-bench-"))
        self.database = database
        self.key = uuid.uuid4().hex
        self.processes: list[Process] = []
        self.redis: RedisServer | None = RedisServer(self.tmp / "redis") if redis == "embedded" else None
        self.pg_admin = pg_admin
        self.pg_name = f"wa_bench_{os.getpid()}"
        if database == "postgres":
            db_url = pg_admin.rsplit("/", 1)[0].replace("postgresql://", "postgres://") + "/" + self.pg_name
        else:
            db_url = f"sqlite://{self.tmp / 'wa.sqlite3'}"
        self.env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REDIS_URL": self.redis.url if self.redis else MACHINE_REDIS,
            "API_SECRET_KEY": self.key,
            "DATA_DIR": str(self.tmp / "data"),
            "QUEUE_NAME": f"wa-bench-{uuid.uuid4().hex[:8]}",
            # Quiet hours off (the whole day): a benchmark measures sending, whatever the hour.
            "SEND_WINDOW_START": "00:00",
            "SEND_WINDOW_END": "00:00",
        }
        os.environ.update(
            {
                k: self.env[k]
                for k in (
                    "DATABASE_URL",
                    "REDIS_URL",
                    "API_SECRET_KEY",
                    "QUEUE_NAME",
                    "SEND_WINDOW_START",
                    "SEND_WINDOW_END",
                )
            }
        )

    @property
    def pg_url(self) -> str:
        return self.pg_admin.rsplit("/", 1)[0] + "/" + self.pg_name

    async def __aenter__(self) -> Stack:
        try:
            if self.redis:
                self.redis.start()
            if self.database == "postgres":
                await _pg(self.pg_admin, f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
                await _pg(self.pg_admin, f'CREATE DATABASE "{self.pg_name}"')
            from models.db import init_db, migrate_db

            await migrate_db()
            await init_db()
        except BaseException:
            await self.__aexit__()  # a half-built stack leaves no server behind
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        from models.db import close_db

        try:
            for proc in self.processes:
                proc.stop()
            await close_db()
        finally:
            if self.redis and self.redis.proc and self.redis.proc.poll() is None:
                self.redis.kill()
            elif not self.redis:
                await _forget_queue(MACHINE_REDIS, self.env["QUEUE_NAME"])
            if self.database == "postgres":
                await _pg(self.pg_admin, f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')

    def start(self, args: list[str], **env: str) -> Process:
        proc = Process(args, {**self.env, **env}, self.tmp / f"proc-{len(self.processes)}.log").start()
        self.processes.append(proc)
        return proc

    def web(self) -> str:
        port = free_port()
        self.start(["main.py"], PORT=str(port))
        wait_for_port(port, timeout=60)
        return f"http://127.0.0.1:{port}"


@contextmanager
def timer() -> Iterator[list[float]]:
    """`with timer() as t:` … then `t[0]` holds the seconds the block took."""
    out: list[float] = []
    start = time.perf_counter()
    yield out
    out.append(time.perf_counter() - start)


async def poll(
    predicate: Callable[[], Awaitable[bool]], timeout: float, what: str, interval: float = 0.1
) -> None:
    """Wait for an async predicate; a benchmark that stalls fails loudly instead of hanging."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def sandbox_contracts(
    total: int, n_accounts: int, use_limits: bool = False, pool: bool = False
) -> list[str]:
    """`total` recipients spread over `n_accounts` sandbox accounts (limits off unless `use_limits`),
    one contract each; or, with `pool`, one contract sent by all of them."""
    from services import accounts, contracts  # builds the broker: call only inside a Stack

    per = total // n_accounts
    made = [
        await accounts.create_account(f"bench {a}", "sandbox", use_limits=use_limits)
        for a in range(n_accounts)
    ]
    if pool:
        phones = [f"79{i:09d}" for i in range(per * n_accounts)]
        created = await contracts.create_contract(
            [a.id for a in made], "bench pool", phones, ["Hi!"] * len(phones)
        )
        return [created.contract.id]
    ids = []
    for a, account in enumerate(made):
        phones = [f"79{a:02d}{i:07d}" for i in range(per)]
        created = await contracts.create_contract(account.id, "bench", phones, ["Hello, bench!"] * per)
        ids.append(created.contract.id)
    return ids


async def _forget_queue(url: str, queue: str) -> None:
    """Remove the run's stream and keys from the machine's Redis (a run leaves some 100,000 kicks)."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{queue}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
