"""Import a CSV of N rows through POST /api/contracts/import (a {name} template fills each message):
time end to end and the web process's peak RSS, against a raw COPY of the same rows in the same run.

.venv/bin/python -m bench.csv_import --rows 1000000
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import psutil

from bench.create import print_copy_ratio
from bench.harness import Stack, machine, parser, timer


def peak_rss_mib(pid: int) -> float:
    """The process's high-water mark of resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc")


def csv_body(rows: int) -> bytes:
    lines = ["phone,name,city"]
    lines += [f"7999{i:07d},Customer {i},Omsk" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("--rows", type=int, default=1_000_000)
    args = p.parse_args()
    async with Stack(args.database, args.redis) as stack:
        stack.env["MAX_RECIPIENTS"] = str(max(args.rows, 1_000_000))
        base = stack.web()
        web = stack.processes[-1].proc.pid
        headers = {"X-API-Key": stack.key}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600) as http:
            account = (await http.post("/api/accounts", json={"name": "bench"})).json()["id"]
            template = "Hello {name}, your order is ready."
            params = {"accountId": account, "name": "import", "template": template}

            async def upload(body: bytes) -> httpx.Response:
                headers = {"content-type": "text/csv"}
                return await http.post("/api/contracts/import", params=params, content=body, headers=headers)

            warm = await upload(csv_body(1000))
            assert warm.status_code == 201, warm.text[:500]
            before = psutil.Process(web).memory_info().rss / 2**20
            payload = csv_body(args.rows)
            with timer() as t:
                r = await upload(payload)
            assert r.status_code == 201, r.text[:500]
            assert r.json()["totalCount"] == args.rows
        peak = peak_rss_mib(web)
        print(f"machine: {machine()}")
        print(
            f"import a {args.rows:,}-row CSV ({len(payload) / 2**20:.0f} MiB) via POST /api/contracts/import "
            f"({args.database}): {t[0]:.1f} s ({args.rows / t[0]:,.0f} rows/s); "
            f"web RSS {before:.0f} MiB before, peak {peak:.0f} MiB"
        )
        await print_copy_ratio(stack, args.rows, t[0])


if __name__ == "__main__":
    asyncio.run(main())
