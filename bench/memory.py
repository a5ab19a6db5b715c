"""Worker memory over a long run: RSS of each worker process (with its children) after the first
tenth of N messages and at the end; the first reading is the baseline of the ratio.

    .venv/bin/python -m bench.memory --messages 1000000
"""

from __future__ import annotations

import asyncio

import psutil

from bench.harness import Stack, machine, poll, sandbox_contracts, sending_parser, timer
from cli import WORKER
from models import RecipientStatus, StatusCount


def rss_mib(pid: int) -> float:
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


async def sent() -> int:
    return sum(await StatusCount.filter(status=RecipientStatus.SENT).values_list("n", flat=True))


async def main() -> None:
    args = sending_parser(__doc__, 1_000_000).parse_args()
    async with Stack(args.database, args.redis) as stack:
        from services import contracts  # builds the broker: only once Stack set the env

        ids = await sandbox_contracts(args.messages, args.accounts)
        workers = [stack.start(WORKER) for _ in range(args.workers)]
        total = args.messages // args.accounts * args.accounts
        with timer() as t:
            for contract_id in ids:
                await contracts.start_contract(contract_id)
            await poll(lambda: _at_least(total // 10), 3600, "a tenth sent", interval=0.5)
            early = [rss_mib(w.proc.pid) for w in workers]
            await poll(lambda: _at_least(total), 7200, "all sent", interval=1)
            late = [rss_mib(w.proc.pid) for w in workers]
    print(f"machine: {machine()}")
    print(
        f"{total:,} messages, {args.accounts} accounts, {args.workers} workers, {args.database}, {t[0]:.0f} s"
    )
    for i, (a, b) in enumerate(zip(early, late, strict=True)):
        print(
            f"  worker {i}: RSS {a:.0f} MiB after {total // 10:,}, {b:.0f} MiB after {total:,}: {b / a:.2f}x"
        )


async def _at_least(n: int) -> bool:
    return await sent() >= n


if __name__ == "__main__":
    asyncio.run(main())
