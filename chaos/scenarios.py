"""The chaos scenarios of docs/RELIABILITY.md. Each runs contracts with limits off on PostgreSQL,
breaks something while they send, waits for them to finish, and returns what the data says."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis

from chaos.world import Outcome, World

ACCOUNTS = 10
TIMEOUT_S = 900


@dataclass
class Result:
    name: str
    outcome: Outcome
    seconds: float
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome.ok and not self.problems


async def _when_sent(world: World, n: int) -> None:
    """Wait until `n` recipients are SENT: the fault then lands mid-run."""
    deadline = time.monotonic() + TIMEOUT_S
    while await world.sent() < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {n} sent after {TIMEOUT_S} s")
        await asyncio.sleep(0.2)


async def worker_kills(recipients: int) -> Result:
    """A random worker is kill -9'd every 5 s and restarted, until every contract completes."""
    async with World(workers=3) as world:
        contracts = await world.contracts(recipients, ACCOUNTS)
        await world.start(contracts)
        kills = 0
        last = time.monotonic()

        async def kill_one() -> None:
            nonlocal kills, last
            if time.monotonic() - last >= 5:
                victim = world.rng.choice(world.workers)
                victim.kill9()
                victim.start()
                kills += 1
                last = time.monotonic()

        seconds = await world.finished(contracts, TIMEOUT_S, during=kill_one)
        return Result("worker kill -9 every 5 s", await world.outcome(contracts), seconds, [f"{kills} kills"])


async def _one_fault(name: str, recipients: int, fault: Callable[[World], Awaitable[str]]) -> Result:
    async with World(workers=3) as world:
        contracts = await world.contracts(recipients, ACCOUNTS)
        started = time.monotonic()
        await world.start(contracts)
        await _when_sent(world, recipients // 4)
        note = await fault(world)
        await world.finished(contracts, TIMEOUT_S)
        outcome = await world.outcome(contracts)
        return Result(name, outcome, time.monotonic() - started, [note])


async def _restart_redis(world: World) -> str:
    sent = await world.sent()
    assert world.stack.redis is not None
    world.stack.redis.restart()
    return f"Redis restarted (AOF) with {sent:,} sent"


async def _flush_redis(world: World) -> str:
    sent = await world.sent()
    assert world.stack.redis is not None
    async with Redis.from_url(world.stack.redis.url) as r:
        await r.flushall()
    return f"Redis FLUSHALL with {sent:,} sent"


async def _restart_postgres(world: World) -> str:
    sent = await world.sent()
    world.postgres.restart()
    return f"PostgreSQL restarted (fast shutdown) with {sent:,} sent"


async def _restart_web(world: World) -> str:
    assert world.web_proc is not None
    world.web_proc.kill9()
    before = await world.sent()
    await asyncio.sleep(3)
    during = await world.sent()
    world.web_proc.start()
    return f"web process down 3 s: {during - before:,} sent meanwhile"


async def redis_restart(recipients: int) -> Result:
    return await _one_fault("Redis restarted mid-run", recipients, _restart_redis)


async def redis_flush(recipients: int) -> Result:
    return await _one_fault("Redis flushed mid-run", recipients, _flush_redis)


async def postgres_restart(recipients: int) -> Result:
    return await _one_fault("PostgreSQL restarted mid-run", recipients, _restart_postgres)


async def web_restart(recipients: int) -> Result:
    result = await _one_fault("web process killed and restarted mid-run", recipients, _restart_web)
    if result.notes[0].startswith("web process down 3 s: 0 sent"):
        result.problems.append("sending stopped while the web process was down")
    return result


async def hammer(recipients: int, clients: int = 20, seconds: float = 15) -> Result:
    """20 clients pause, resume and delete running contracts at random, all at once."""
    async with World(workers=3) as world:
        contracts = await world.contracts(recipients, ACCOUNTS)
        started = time.monotonic()
        await world.start(contracts)
        codes: collections.Counter[str] = collections.Counter()
        doomed = set(contracts[: ACCOUNTS // 5])  # these may be deleted; the others only paused/resumed

        async def client(i: int) -> None:
            rng = world.rng.__class__(i)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                c = rng.choice(contracts)
                op = rng.choice(["pause", "start", "start", "delete"] if c in doomed else ["pause", "start"])
                if op == "delete":
                    r = await world.http.delete(f"/api/contracts/{c}")
                else:
                    r = await world.http.post(f"/api/contracts/{c}/{op}")
                codes[f"{op} {r.status_code}"] += 1

        await asyncio.gather(*(client(i) for i in range(clients)))
        problems = [f"{k}: {n}" for k, n in codes.items() if int(k.split()[1]) >= 500]
        left = [r["id"] for r in await world.sql("SELECT id FROM contracts WHERE id = ANY($1)", contracts)]
        gone = set(contracts) - set(left)
        orphans = await world.sql(
            "SELECT (SELECT count(*) FROM recipients WHERE contract_id = ANY($1)) + "
            "(SELECT count(*) FROM contract_status_counts WHERE contract_id = ANY($1))",
            list(gone),
        )
        if orphans[0][0]:
            problems.append(f"{orphans[0][0]} rows left behind by deleted contracts")
        for c in left:  # resume whatever the hammering left paused
            r = await world.http.post(f"/api/contracts/{c}/start")
            if r.status_code not in (200, 409):
                problems.append(f"resume {c}: {r.status_code} {r.text[:100]}")
        await world.finished(left, TIMEOUT_S)
        outcome = await world.outcome(left)
        notes = [
            f"{sum(codes.values()):,} requests: " + ", ".join(f"{k} ×{n}" for k, n in sorted(codes.items()))
        ]
        notes.append(f"{len(gone)} contracts deleted, {len(left)} completed")
        return Result(
            "pause/resume/delete from 20 clients", outcome, time.monotonic() - started, notes, problems
        )


SCENARIOS: dict[str, Callable[[int], Awaitable[Result]]] = {
    "worker-kills": worker_kills,
    "redis-restart": redis_restart,
    "redis-flush": redis_flush,
    "postgres-restart": postgres_restart,
    "web-restart": web_restart,
    "hammer": hammer,
}
