"""What password checks cost everyone else: 200 wrong passwords checked for 4 concurrent clients,
while a timer on the same event loop measures how late it wakes (what /health would wait). Prints
the lag with nothing else running (the baseline) and during the checks. (The sign-in page checks
only 3 wrong passwords per address and username before its throttle refuses without hashing.)

    .venv/bin/python -m bench.signin [--database sqlite]
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bench.harness import Stack, machine, parser

GUESSES = 200
CLIENTS = 4


async def _lag_while(work: asyncio.Future | None, seconds: float) -> list[float]:
    """Milliseconds each 1 ms sleep overslept, until `work` is done (or for `seconds`)."""
    lags = []
    until = time.monotonic() + seconds
    while (work is not None and not work.done()) or (work is None and time.monotonic() < until):
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - start) * 1000 - 1)
    return lags


def _summary(ms: list[float]) -> str:
    ordered = sorted(ms)
    return f"p50 {statistics.median(ordered):.1f} ms, p99 {ordered[int(len(ordered) * 0.99) - 1]:.1f} ms"


async def main() -> None:
    parser(__doc__ or "").parse_args()
    print(machine())
    async with Stack("sqlite", "embedded") as _:
        from services import users

        await users.create_first_user("anna", "correct horse")
        baseline = await _lag_while(None, 2)
        print(f"event-loop lag, nothing else:       {_summary(baseline)}")

        async def guess(client: int) -> None:
            for i in range(GUESSES // CLIENTS):
                await users.authenticate("anna", f"guess {client} {i}")

        started = time.perf_counter()
        work = asyncio.ensure_future(asyncio.gather(*(guess(c) for c in range(CLIENTS))))
        lags = await _lag_while(work, 0)
        took = time.perf_counter() - started
        print(f"event-loop lag, {GUESSES} password checks: {_summary(lags)} (over {took:.1f} s)")


if __name__ == "__main__":
    asyncio.run(main())
