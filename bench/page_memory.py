"""Memory of the web process over repeated page loads, as plain GETs (no socket ever connects, as a
script or a crawler loads pages): RSS of the real web process (from /proc) before, after a fifth of
the loads, after all and once NiceGUI has had time to drop the pages (--settle seconds), for
  - the sign-in page, anonymous (a new browser each load),
  - the wizard (/contracts/new) of a signed-in user whose draft holds an N-row upload,
  - the same with a big draft (a million rows), fewer loads.

    .venv/bin/python -m bench.page_memory [--database sqlite] [--loads 1000] [--rows 10000]
        [--big-rows 1000000] [--big-loads 20] [--settle 75]
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import httpx

from bench.csv_import import csv_body, peak_rss_mib
from bench.harness import Stack, machine, parser

USER, PASSWORD = "bench", "a bench password"


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def _signed_in(http: httpx.AsyncClient) -> None:
    """The session cookie of USER, as the sign-in page's ticket gets it."""
    from services import signin

    ticket = await signin.with_password(USER, PASSWORD, "127.0.0.1")
    origin = str(http.base_url).rstrip("/")
    r = await http.post("/login/finish", data={"ticket": ticket, "next": "/"}, headers={"Origin": origin})
    assert "/login" not in r.headers.get("location", "/login"), r.text[:300]


async def _draft(rows: int, account_id: str) -> None:
    """USER's wizard draft: an upload of `rows` rows, at the message step."""
    from services import audiences, wizard_drafts
    from services.recipient_files import wizard_table

    table = await asyncio.to_thread(wizard_table.from_upload, "customers.csv", csv_body(rows))
    kept = await audiences.keep_upload(USER, "customers.csv", table)
    await wizard_drafts.remember(
        USER, accounts=[account_id], audience=kept, phoneColumn="phone", template="Hi {name}", step="message"
    )


async def _loads(
    pid: int, what: str, n: int, get: Callable[[], object], settle: float, concurrency: int = 4
) -> None:
    before = rss_mib(pid)
    failed, done = 0, 0
    started = time.perf_counter()
    early: list[float] = []  # RSS after the first fifth of the loads

    async def one() -> None:
        nonlocal failed, done
        while done < n:
            done += 1
            r = await get()  # type: ignore[misc]
            failed += r.status_code != 200
            if done == n // 5:
                early.append(rss_mib(pid))

    await asyncio.gather(*(one() for _ in range(concurrency)))
    took = time.perf_counter() - started
    after = rss_mib(pid)
    await asyncio.sleep(settle)
    settled = rss_mib(pid)
    print(
        f"{what}: {n:,} loads in {took:.0f} s ({failed} not 200): RSS {before:.0f} MiB before, "
        f"{early[0]:.0f} after {n // 5:,} loads, {after:.0f} after all ({after - before:+.0f}; "
        f"{after - early[0]:+.0f} since {n // 5:,}), {settled:.0f} {settle:.0f} s later "
        f"({settled - before:+.0f}); peak {peak_rss_mib(pid):.0f}",
        flush=True,
    )


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("--loads", type=int, default=1000)
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--big-rows", type=int, default=1_000_000)
    p.add_argument("--big-loads", type=int, default=20)
    p.add_argument("--settle", type=float, default=75)
    args = p.parse_args()
    print(f"machine: {machine()}", flush=True)
    os.environ["MAX_RECIPIENTS"] = str(max(args.big_rows, 1_000_000))
    async with Stack(args.database, args.redis) as stack:
        from models import Account
        from services import users

        await users.create_first_user(USER, PASSWORD)
        account = await Account.create(name="bench")
        base = stack.web()
        pid = stack.processes[-1].proc.pid

        async def anonymous() -> httpx.Response:
            async with httpx.AsyncClient(base_url=base, timeout=600) as fresh:
                return await fresh.get("/login")

        async with httpx.AsyncClient(base_url=base, timeout=600) as http:
            for _ in range(20):  # warm up: imports and caches of a first load are not a leak
                await anonymous()
            await _loads(pid, "GET /login, anonymous", args.loads, anonymous, args.settle)
            await _signed_in(http)
            await _draft(args.rows, account.id)

            def wizard() -> object:
                return http.get("/contracts/new")

            for _ in range(5):
                await wizard()
            await _loads(pid, f"GET /contracts/new, {args.rows:,}-row draft", args.loads, wizard, args.settle)
            if args.big_loads:
                await _draft(args.big_rows, account.id)
                what = f"GET /contracts/new, {args.big_rows:,}-row draft"
                await _loads(pid, what, args.big_loads, wizard, args.settle, concurrency=1)


if __name__ == "__main__":
    asyncio.run(main())
