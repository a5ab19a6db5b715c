"""The dashboard wizard's path for an N-row CSV, in this process as the web process runs it: read the
file, keep it with the user's draft (compressed, in the database) and read it back as a reload does,
check every row (numbers, repeats, opt-outs, messages), create the contract from the rows kept.
Time of each step and this process's peak RSS, against a raw COPY of the same rows in the same run.

.venv/bin/python -m bench.wizard --rows 1000000
"""

from __future__ import annotations

import asyncio
import os

from bench.create import print_copy_ratio
from bench.csv_import import csv_body, peak_rss_mib
from bench.harness import Stack, machine, parser, timer


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("--rows", type=int, default=1_000_000)
    args = p.parse_args()
    os.environ["MAX_RECIPIENTS"] = str(max(args.rows, 1_000_000))
    async with Stack(args.database, args.redis) as stack:
        from models import Account
        from services import audiences, contracts
        from services.recipient_files import wizard_table

        account = await Account.create(name="bench")
        data = csv_body(args.rows)
        size_mib = len(data) / 2**20
        with timer() as read:
            table = await asyncio.to_thread(wizard_table.from_upload, "customers.csv", data)
        del data  # as the upload handler drops it once read
        with timer() as keep:
            kept = await audiences.keep_upload("bench", "customers.csv", table)
        with timer() as reload:
            table, _ = await audiences.table_of(kept, "bench")
        stored_mib = (await audiences.get(kept, "bench")).size / 2**20
        with timer() as check:
            report = await wizard_table.check(
                table, "phone", "Hello {name}, your order is ready.", [account.id]
            )
        with timer() as create:
            phone_numbers, messages = await asyncio.to_thread(report.kept)
            created = await contracts.create_contract(account.id, "wizard", phone_numbers, messages)
        del phone_numbers, messages
        assert created.contract.total_count == args.rows
        total = read[0] + keep[0] + check[0] + create[0]
        print(f"machine: {machine()}")
        print(
            f"wizard path, {args.rows:,}-row CSV ({size_mib:.0f} MiB, {args.database}): read "
            f"{read[0]:.1f} s, check {check[0]:.1f} s, create {create[0]:.1f} s, total {total:.1f} s; "
            f"peak RSS {peak_rss_mib(os.getpid()):.0f} MiB; kept with the draft {keep[0]:.1f} s "
            f"({stored_mib:.0f} MiB before compression), read back {reload[0]:.1f} s"
        )
        await print_copy_ratio(stack, args.rows, total)


if __name__ == "__main__":
    asyncio.run(main())
