"""Pacing over a simulated 24 h with the default rules: windows, breaks, daily cap, achieved rate.

.venv/bin/python -m bench.pacing [--days 1] [--account-age-days 0]
"""

from __future__ import annotations

import argparse
import itertools
import random
from datetime import UTC, datetime

from bench.harness import machine
from services.pacing import busiest_window, daily_cap, mean_seconds_per_message, simulate
from settings import Settings

TEXT = "Hello! Your order #12345 is ready for pickup at our store."


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--days", type=float, default=1)
    p.add_argument("--account-age-days", type=float, default=0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    s = Settings()
    seconds = args.days * 86_400
    start = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
    cap = daily_cap(args.account_age_days, s)
    capped = simulate(s, cap, start, seconds, random.Random(args.seed), TEXT)
    free = simulate(s, 10**9, start, seconds, random.Random(args.seed), TEXT)

    worst = busiest_window(free)
    gaps = [b - a for a, b in itertools.pairwise(free)]
    breaks_missed = sum(1 for i, g in enumerate(gaps, 1) if i % s.break_every == 0 and g < s.break_min_s)
    allowed = seconds / mean_seconds_per_message(TEXT, s)
    rate = len(free) / allowed
    print(f"machine: {machine()}")
    print(f"simulated {args.days:g} day(s), default rules, account age {args.account_age_days:g} days")
    print(f"  with the daily cap ({cap}/day): {len(capped)} sent, cap held: {len(capped) <= cap * args.days}")
    print(f"  without the cap: {len(free)} sent; the rules allow {allowed:.0f} on average: {rate:.1%}")
    print(f"  most sends in any 60 s window: {worst} (limit {s.per_minute}); breaks missed: {breaks_missed}")


if __name__ == "__main__":
    main()
