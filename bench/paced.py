"""Many paced accounts at once: A sandbox accounts under the default pacing rules, one contract each,
W workers, for S seconds. What the accounts achieve is set against the same rules run in simulated
time (services/pacing.simulate) over the same spans, in the same run; also the first send's delay
after each start, the steady state once every account has started, and the CPU the workers and the
whole machine spent.

    .venv/bin/python -m bench.paced --accounts 10000 --workers 2 --seconds 300
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime

import psutil

from bench.harness import Stack, machine, poll
from cli import WORKER
from models import Account, Contract, Recipient, RecipientStatus, Worker
from services.pacing import daily_cap, mean_seconds_per_message, simulate
from settings import Settings

TEXT = "Hello, bench!"
CHUNK = 50  # creates and starts in flight at once
STEADY_AFTER_S = 60


async def in_chunks(calls: list, size: int = CHUNK) -> list:
    out = []
    for i in range(0, len(calls), size):
        out += await asyncio.gather(*(call() for call in calls[i : i + size]))
    return out


async def paced_contracts(n_accounts: int, per: int) -> list[str]:
    """One paced sandbox account per contract of `per` recipients; the contracts' ids."""
    from services import accounts, contracts  # builds the broker: call only inside a Stack

    made = await in_chunks(
        [lambda a=a: accounts.create_account(f"paced {a}", "sandbox") for a in range(n_accounts)]
    )

    async def contract(a: int, account: Account) -> str:
        phones = [f"79{a:05d}{i:04d}" for i in range(per)]
        return (await contracts.create_contract(account.id, "paced", phones, [TEXT] * per)).contract.id

    return await in_chunks([lambda a=a, acc=acc: contract(a, acc) for a, acc in enumerate(made)])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def quarters(values: list[float]) -> list[list[float]]:
    n = len(values)
    return [values[i * n // 4 : (i + 1) * n // 4] for i in range(4)]


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        for q in [p, *p.children(recursive=True)]:
            times = q.cpu_times()
            total += times.user + times.system
    return total


async def run(stack: Stack, n_accounts: int, workers: int, seconds: float) -> dict[str, float]:
    from services import contracts

    s = Settings()
    per = math.ceil(seconds / 10) + 5  # more than an account can send in the run
    ids = await paced_contracts(n_accounts, per)
    procs = [psutil.Process(stack.start(WORKER).proc.pid) for _ in range(workers)]
    await poll(lambda: _workers_up(workers), 120, "the workers to start")
    began = time.monotonic()
    await in_chunks([lambda c=c: contracts.start_contract(c) for c in ids])
    starting = time.monotonic() - began
    # Steady state: from a minute after the last start (the burst of first sends is over) to the
    # end: the sends then, against the rules simulated from each account's start, and the CPU spent.
    await asyncio.sleep(STEADY_AFTER_S)
    steady_from = datetime.now(UTC)
    cpu_before, machine_before = cpu_seconds(procs), psutil.cpu_times()
    await asyncio.sleep(max(0.0, seconds - (time.monotonic() - began)))
    end = datetime.now(UTC)
    wall = time.monotonic() - began
    steady_s = (end - steady_from).total_seconds()
    worker_cpu = (cpu_seconds(procs) - cpu_before) / steady_s / psutil.cpu_count()
    machine_after = psutil.cpu_times()
    busy = sum(machine_after) - machine_after.idle - (sum(machine_before) - machine_before.idle)
    machine_cpu = busy / (sum(machine_after) - sum(machine_before))

    started = dict(await Contract.filter(id__in=ids).values_list("id", "started_at"))
    sends: dict[str, list[datetime]] = defaultdict(list)
    rows = Recipient.filter(contract_id__in=ids, status=RecipientStatus.SENT, sent_at__lte=end)
    for contract_id, at in await rows.values_list("contract_id", "sent_at"):
        sends[contract_id].append(at)
    steady = sum(1 for times in sends.values() for at in times if at > steady_from)
    cap = daily_cap(0, s)
    achieved, allowed, first = [], [], []
    first_by_start: list[float] = []  # in the order the contracts started (inf: nothing sent)
    steady_allowed = 0
    for i, contract_id in enumerate(ids):
        span = (end - started[contract_id]).total_seconds()
        ruled = simulate(s, cap, 0, span, random.Random(i), TEXT)
        achieved.append(len(sends[contract_id]) / span * 60)
        allowed.append(len(ruled) / span * 60)
        steady_allowed += sum(1 for t in ruled if t > span - steady_s)
        if sends[contract_id]:
            first.append((min(sends[contract_id]) - started[contract_id]).total_seconds())
        first_by_start.append(first[-1] if sends[contract_id] else math.inf)
    return {
        "achieved_mean": statistics.mean(achieved),
        "allowed_mean": statistics.mean(allowed),
        "achieved_median": statistics.median(achieved),
        "allowed_median": statistics.median(allowed),
        "achieved_p5": percentile(achieved, 0.05),
        "allowed_p5": percentile(allowed, 0.05),
        "rules_rate": 60 / mean_seconds_per_message(TEXT, s),
        "first_median": statistics.median(first) if first else math.inf,
        "first_p95": percentile(first, 0.95) if first else math.inf,
        "first_max": max(first) if first else math.inf,
        "first_by_quarter": [statistics.median(q) for q in quarters(first_by_start)],
        "never_sent": n_accounts - len(first),
        "worker_cpu": worker_cpu,
        "machine_cpu": machine_cpu,
        "wall": wall,
        "starting": starting,
        "steady_s": steady_s,
        "steady_rate": steady / steady_s,
        "steady_ratio": steady / steady_allowed,
    }


async def _workers_up(n: int) -> bool:
    return await Worker.all().count() >= n


async def main() -> None:
    from bench.harness import parser

    p = parser(__doc__)
    p.add_argument("--accounts", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seconds", type=float, default=180)
    args = p.parse_args()
    async with Stack(args.database, args.redis) as stack:
        r = await run(stack, args.accounts, args.workers, args.seconds)
    print(f"machine: {machine()}")
    print(
        f"{args.accounts:,} paced sandbox accounts, one contract each, {args.workers} workers, "
        f"{args.database}, {r['wall']:.0f} s from the first start (starting them all took "
        f"{r['starting']:.1f} s)"
    )
    print(
        f"  messages/min per account: achieved mean {r['achieved_mean']:.2f}, median "
        f"{r['achieved_median']:.2f}, 5th percentile {r['achieved_p5']:.2f}; the rules in simulated "
        f"time over the same spans: {r['allowed_mean']:.2f}, {r['allowed_median']:.2f}, "
        f"{r['allowed_p5']:.2f} (long-run rule rate {r['rules_rate']:.2f})"
    )
    print(
        f"  achieved / allowed: mean {r['achieved_mean'] / r['allowed_mean']:.2f}, median "
        f"{r['achieved_median'] / r['allowed_median']:.2f}, 5th percentile "
        f"{r['achieved_p5'] / r['allowed_p5']:.2f}"
    )
    print(
        f"  first send after start: median {r['first_median']:.1f} s, 95th percentile "
        f"{r['first_p95']:.1f} s, worst {r['first_max']:.1f} s; accounts that sent nothing: "
        f"{r['never_sent']}"
    )
    by_quarter = ", ".join(f"{q:.1f} s" for q in r["first_by_quarter"])
    print(f"  first send after start, median by quarter of the starts (first to last): {by_quarter}")
    print(
        f"  steady state (the last {r['steady_s']:.0f} s, from a minute after the last start): "
        f"{r['steady_rate']:.0f} messages/s, {r['steady_ratio']:.2f} of what the rules allow then"
    )
    print(
        f"  CPU in the steady state: workers {r['worker_cpu']:.0%} of the machine, the whole machine "
        f"{r['machine_cpu']:.0%}"
    )


if __name__ == "__main__":
    asyncio.run(main())
