"""Read latency on big data: contract stats (summary, and one page of the phone lists) on a contract
of R recipients, and GET /api/queues/status over C contracts; p50/p99 over repeated requests,
against GET /health (no database work) in the same run.

    .venv/bin/python -m bench.reads --recipients 1000000 --contracts 1000 --each 4000 --requests 200

(1,000,000 + 999 × 4,000 ≈ 5,000,000 recipient rows: the issue's setting.)
"""

from __future__ import annotations

import asyncio
import statistics

import httpx

from bench.harness import Stack, machine, parser, timer


async def latencies(http: httpx.AsyncClient, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        with timer() as t:
            r = await http.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        out.append(t[0] * 1000)
    return sorted(out)


def summary(name: str, ms: list[float], base: float) -> str:
    p50, p99 = statistics.median(ms), ms[int(len(ms) * 0.99) - 1]
    return f"{name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({p50 / base:.1f}x /health p50)"


async def cursor_at(contract: str, position: int) -> str:
    """The `next` cursor a client holds once it has paged up to `position`."""
    from models import Recipient

    return str(await Recipient.get(contract_id=contract, position=position).values_list("id", flat=True))


async def fill(recipients: int, contracts: int, each: int) -> str:
    """One big contract, half sent and 2% failed, plus small contracts in every status."""
    from models import Contract, ContractStatus
    from models.sql import execute
    from services import accounts
    from services import contracts as contract_service

    account = await accounts.create_account("bench", "sandbox")
    phones = [f"7999{i:07d}" for i in range(recipients)]
    big = await contract_service.create_contract(account.id, "big", phones, ["Hello!"] * recipients)
    await execute(
        "UPDATE recipients SET status = CASE WHEN position % 50 = 0 THEN 'FAILED' "
        "WHEN position % 2 = 0 THEN 'SENT' ELSE 'QUEUED' END, sent_at = CURRENT_TIMESTAMP, "
        "error_message = CASE WHEN position % 50 = 0 THEN 'Invalid number' END WHERE contract_id = ?",
        [big.contract.id],
    )
    await Contract.filter(id=big.contract.id).update(status=ContractStatus.IN_PROGRESS)
    statuses = list(ContractStatus)
    for i in range(contracts - 1):
        small = await contract_service.create_contract(account.id, f"c{i}", phones[:each], ["Hi"] * each)
        await Contract.filter(id=small.contract.id).update(status=statuses[i % len(statuses)])
    return big.contract.id


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("--recipients", type=int, default=1_000_000)
    p.add_argument("--contracts", type=int, default=1000)
    p.add_argument("--each", type=int, default=4000, help="recipients of each other contract")
    p.add_argument("--requests", type=int, default=200)
    args = p.parse_args()
    async with Stack(args.database, args.redis) as stack:
        stack.env["MAX_RECIPIENTS"] = str(max(args.recipients, 1_000_000))
        with timer() as filled:
            contract = await fill(args.recipients, args.contracts, args.each)
        base_url = stack.web()
        async with httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": stack.key}, timeout=60) as http:
            await latencies(http, "/health", 20)
            health = await latencies(http, "/health", args.requests)
            stats = await latencies(http, f"/api/contracts/{contract}/stats?limit=0", args.requests)
            deep = args.recipients // 4
            offset_page = await latencies(
                http, f"/api/contracts/{contract}/stats?limit=100&offset={deep}", args.requests
            )
            path = f"/api/contracts/{contract}/recipients?limit=100"
            first_page = await latencies(http, path, args.requests)
            after = await cursor_at(contract, deep)
            keyset_page = await latencies(http, f"{path}&status=SENT&after={after}", args.requests)
            late = f"7999{args.recipients - 7:07d}"  # one number near the end: the search reads the most
            search = await latencies(http, f"{path}&phone={late}", args.requests)
            queues = await latencies(http, "/api/queues/status", args.requests)
    base = statistics.median(health)
    print(f"machine: {machine()}")
    print(
        f"{args.database}: {args.recipients:,} recipients in one contract, {args.contracts:,} contracts, "
        f"{args.recipients + (args.contracts - 1) * args.each:,} recipient rows "
        f"(filled in {filled[0]:.0f} s); {args.requests} sequential requests each"
    )
    print(summary("GET /health", health, base))
    print(summary("GET stats, counts only (limit=0)", stats, base))
    print(summary("GET stats, one page of 100 at offset R/4 (offset paging)", offset_page, base))
    print(summary("GET recipients, first page of 100", first_page, base))
    print(summary("GET recipients, SENT page of 100 after R/4 (keyset)", keyset_page, base))
    print(summary("GET recipients, search by phone prefix (a number near the end)", search, base))
    print(summary("GET /api/queues/status", queues, base))


if __name__ == "__main__":
    asyncio.run(main())
