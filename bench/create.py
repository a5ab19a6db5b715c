"""Create a contract of N recipients through POST /api/contracts, against a raw COPY of the same rows.

.venv/bin/python -m bench.create --recipients 100000
"""

from __future__ import annotations

import asyncio
import json
import statistics

import asyncpg
import httpx
import psutil

from bench.harness import Stack, machine, parser, timer
from models.ids import new_message_ids


def body(account: str, n: int) -> bytes:
    recipients = [
        {"phoneNumber": f"7999{i:07d}", "message": f"Hello {i}, your order is ready."} for i in range(n)
    ]
    return json.dumps({"accountId": account, "name": "bench", "recipients": recipients}).encode()


async def copy_baseline(pg_url: str, n: int) -> float:
    """The floor: asyncpg COPY of the same rows into a table shaped like recipients, with its indexes."""
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("CREATE TABLE bench_copy (LIKE recipients INCLUDING ALL)")
        contract = await conn.fetchval("SELECT id FROM contracts LIMIT 1")
        ids = new_message_ids(n)
        rows = [
            (contract, i, f"7999{i:07d}", f"Hello {i}, your order is ready.", "PENDING", ids[i], 0)
            for i in range(n)
        ]
        columns = ["contract_id", "position", "phone_number", "message", "status", "message_id", "attempts"]
        with timer() as t:
            await conn.copy_records_to_table("bench_copy", records=rows, columns=columns)
        await conn.execute("DROP TABLE bench_copy")
        return t[0]
    finally:
        await conn.close()


async def print_copy_ratio(stack: Stack, rows: int, took: float) -> None:
    """On PostgreSQL, the raw COPY of the same rows, and `took` as a multiple of it."""
    if stack.database == "postgres":
        baseline = await copy_baseline(stack.pg_url, rows)
        print(f"baseline asyncpg COPY of the same rows: {baseline:.2f} s; ratio {took / baseline:.1f}x")


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("--recipients", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=3, help="creates measured; the median is reported")
    args = p.parse_args()
    async with Stack(args.database, args.redis) as stack:
        stack.env["MAX_RECIPIENTS"] = str(max(args.recipients, 1_000_000))
        base = stack.web()
        web = psutil.Process(stack.processes[-1].proc.pid)
        headers = {"X-API-Key": stack.key, "content-type": "application/json"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600) as http:
            account = (await http.post("/api/accounts", json={"name": "bench"})).json()["id"]
            warm = await http.post("/api/contracts", content=body(account, 1000))
            assert warm.status_code == 201, warm.text[:500]
            payload = body(account, args.recipients)
            runs = []
            for _ in range(args.runs):
                with timer() as t:
                    r = await http.post("/api/contracts", content=payload)
                assert r.status_code == 201, r.text[:500]
                assert r.json()["totalCount"] == args.recipients
                runs.append(t[0])
        took = statistics.median(runs)
        rss = web.memory_info().rss / 2**20
        print(f"machine: {machine()}")
        print(
            f"create {args.recipients:,} recipients via POST /api/contracts ({args.database}): "
            f"median {took:.2f} s"
            f" of {', '.join(f'{x:.2f}' for x in runs)} ({args.recipients / took:,.0f} rows/s), "
            f"body {len(payload) / 2**20:.1f} MiB, web RSS {rss:.0f} MiB"
        )
        await print_copy_ratio(stack, args.recipients, took)


if __name__ == "__main__":
    asyncio.run(main())
