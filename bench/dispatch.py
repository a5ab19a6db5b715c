"""Dispatch throughput with limits off: N messages over A sandbox accounts (no latency), W workers,
against a taskiq no-op task's throughput on the same broker, and against the peer the seed was built
on, BullMQ, processing no-op jobs on the same Redis (bench/bullmq; needs node and npm), and BullMQ jobs
that each write one row to PostgreSQL (every message of ours is recorded), in the same run.

    .venv/bin/python -m bench.dispatch --messages 100000 --accounts 20 --workers 2
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

from redis.asyncio import Redis
from tortoise.functions import Max, Min

from bench.harness import Stack, machine, poll, sandbox_contracts, sending_parser, timer
from cli import WORKER, worker_args
from models import Contract, ContractStatus, Recipient, RecipientStatus

NOOP_WORKER = worker_args("bench.noop")


async def drained(redis: Redis, stream: str, group: str) -> bool:
    """Every message of the stream delivered to the group and acknowledged (works on Redis 6.2 and 7)."""
    info = await redis.xinfo_stream(stream)
    groups = {g["name"].decode(): g for g in await redis.xinfo_groups(stream)}
    g = groups[group]
    return g["pending"] == 0 and g["last-delivered-id"] == info["last-generated-id"]


async def started(redis: Redis, stream: str, group: str) -> bool:
    """The workers have begun reading the stream (the group has delivered something)."""
    groups = {g["name"].decode(): g for g in await redis.xinfo_groups(stream)}
    return group in groups and groups[group]["last-delivered-id"] != b"0-0"


async def noop_throughput(stack: Stack, n: int, workers: int) -> float:
    """Fill the stream with n no-op tasks while no worker runs, then time the workers draining it."""
    from bench.noop import noop
    from tasks.broker import broker

    await broker.startup()
    for _ in range(n):
        await noop.kiq()
    procs = [stack.start(NOOP_WORKER) for _ in range(workers)]
    async with Redis.from_url(stack.env["REDIS_URL"]) as redis:
        stream, group = broker.queue_name, broker.consumer_group_name
        total = (await redis.xinfo_stream(stream))["length"]
        await poll(lambda: started(redis, stream, group), 60, "workers to start", interval=0.005)
        with timer() as t:
            await poll(lambda: drained(redis, stream, group), 600, "the no-op tasks", interval=0.01)
    for proc in procs:
        proc.stop()
    stack.processes = [p for p in stack.processes if p not in procs]
    await broker.shutdown()
    return total / t[0]


def bullmq_throughput(
    stack: Stack, n: int, workers: int, pg_url: str | None = None, concurrency: int = 100
) -> float:
    """The peer: BullMQ (Node.js) workers processing n jobs on the same Redis, each a no-op or, given
    `pg_url`, one INSERT into PostgreSQL; jobs/s."""
    folder = Path(__file__).parent / "bullmq"
    if not (folder / "node_modules" / "pg").exists():
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=folder, check=True)
    queue = f"{stack.env['QUEUE_NAME']}-bullmq"
    args = ["node", "peer.mjs", stack.env["REDIS_URL"], queue, str(n), str(workers), str(concurrency)]
    env = {**os.environ, **({"BENCH_PG_URL": pg_url} if pg_url else {})}
    out = subprocess.run(args, cwd=folder, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])["perSecond"]


async def all_completed(ids: list[str]) -> bool:
    return not await Contract.filter(id__in=ids).exclude(status=ContractStatus.COMPLETED).exists()


async def dispatch_throughput(
    stack: Stack, n: int, n_accounts: int, workers: int, pool: bool = False
) -> tuple[float, float]:
    """Messages SENT per second (first to last send) and from start to COMPLETED: one contract per
    account, or (`pool`) one contract sent by all the accounts, on `workers` workers (started by the
    first run, kept by the next)."""
    from services import contracts

    ids = await sandbox_contracts(n, n_accounts, pool=pool)
    for _ in range(0 if pool else workers):
        stack.start(WORKER)
    with timer() as wall:
        for contract_id in ids:
            await contracts.start_contract(contract_id)
        await poll(lambda: all_completed(ids), 1800, "the contracts to complete", interval=0.25)
    sent_rows = Recipient.filter(contract_id__in=ids, status=RecipientStatus.SENT)
    span = await sent_rows.annotate(lo=Min("sent_at"), hi=Max("sent_at")).values("lo", "hi")
    sent = await sent_rows.count()
    assert sent == n // n_accounts * n_accounts, sent
    seconds = (span[0]["hi"] - span[0]["lo"]).total_seconds()
    return sent / seconds, sent / wall[0]


async def main() -> None:
    args = sending_parser(__doc__, 100_000).parse_args()
    async with Stack(args.database, args.redis) as stack:
        noop = await noop_throughput(stack, args.messages // 5, args.workers)
        peer = peer_rows = None
        if shutil.which("node"):
            peer = bullmq_throughput(stack, args.messages // 5, args.workers)
            if args.database == "postgres":
                pg_url = stack.pg_url.replace("postgres://", "postgresql://")
                peer_rows = bullmq_throughput(stack, args.messages // 5, args.workers, pg_url)
        rate, wall_rate = await dispatch_throughput(stack, args.messages, args.accounts, args.workers)
        pooled, _ = await dispatch_throughput(stack, args.messages, args.accounts, args.workers, pool=True)
    print(f"machine: {machine()}")
    print(f"taskiq no-op tasks, {args.workers} workers, {args.redis} Redis: {noop:,.0f} tasks/s")
    print(
        f"dispatch {args.messages:,} messages over {args.accounts} accounts, {args.workers} workers, "
        f"{args.database}: {rate:,.0f} messages/s SENT (first to last send), {wall_rate:,.0f}/s from start "
        f"to COMPLETED; ratio to no-op tasks {rate / noop:.2f}"
    )
    print(
        f"pool: one contract of {args.messages:,} sent by the same {args.accounts} accounts (limits off): "
        f"{pooled:,.0f} messages/s SENT; pool / one contract per account = {pooled / rate:.2f}"
    )
    if peer:
        print(
            f"peer: BullMQ no-op jobs, {args.workers} Node.js workers (concurrency 100), same Redis: "
            f"{peer:,.0f} jobs/s; our messages SENT / BullMQ no-op jobs = {rate / peer:.2f}; "
            f"taskiq no-op / BullMQ no-op = {noop / peer:.2f}"
        )
    if peer_rows:
        print(
            f"peer: BullMQ jobs each writing one row to PostgreSQL (pool of 10 per worker), same run: "
            f"{peer_rows:,.0f} jobs/s; our messages SENT (each recorded) / those jobs = "
            f"{rate / peer_rows:.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
