"""Pacing rules as pure functions of (state, clock, random source): no I/O, no sleeping.

The state is a small JSON-able dict stored on the account row and written only by the lease holder.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from settings import Settings


@dataclass
class PacingState:
    recent: list[float] = field(default_factory=list)  # epoch seconds of sends in the last minute
    since_break: int = 0
    day: str = ""  # UTC date the day count belongs to
    day_count: int = 0
    not_before: float = 0.0  # earliest next send (gap, delay or break already drawn)

    @classmethod
    def load(cls, data: dict | None) -> PacingState:
        return cls(**(data or {}))

    def dump(self) -> dict:
        return asdict(self)

    def sent_on(self, at: datetime) -> int:
        """How many it sent on the UTC day of `at` (its count is of one day, the last it sent on)."""
        return self.day_count if self.day == _day(at.timestamp()) else 0


def daily_cap(account_age_days: float, s: Settings, warmup: list[int] | None = None) -> int:
    """500 for a new account, growing linearly to 1000 at `daily_cap_ramp_days` of age; or, while an
    account follows a warm-up plan, the plan's cap for its day of age (day 0 first)."""
    day = int(max(0.0, account_age_days))
    if warmup and day < len(warmup):
        return warmup[day]
    share = min(1.0, max(0.0, account_age_days) / s.daily_cap_ramp_days)
    return round(s.daily_cap_min + (s.daily_cap_max - s.daily_cap_min) * share)


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def _next_midnight(ts: float) -> float:
    day = datetime.fromtimestamp(ts, UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def next_send_at(state: PacingState, now: float, cap: int, s: Settings) -> float:
    """The earliest moment the next message may leave (epoch seconds; <= now means now)."""
    due = max(now, state.not_before)
    if state.sent_on(datetime.fromtimestamp(due, UTC)) >= cap:
        due = _next_midnight(due)
    window = [t for t in state.recent if t > due - 60]
    if len(window) >= s.per_minute:
        due = max(due, window[-s.per_minute] + 60)
    return due


def after_send(
    state: PacingState, sent_at: float, rng: random.Random, s: Settings, pace_factor: float = 1.0
) -> PacingState:
    """The state once a message left at `sent_at`: window, day count, and the next gap or break,
    stretched by `pace_factor` while a health rule slows the account down (the per-minute cap stays)."""
    day = _day(sent_at)
    day_count = state.day_count + 1 if state.day == day else 1
    since_break = state.since_break + 1
    if since_break >= s.break_every:
        wait = rng.uniform(s.break_min_s, s.break_max_s)
        since_break = 0
    else:
        wait = rng.uniform(s.gap_min_s, s.gap_max_s)
    wait += rng.uniform(s.delay_min_s, s.delay_max_s)
    recent = [t for t in state.recent if t > sent_at - 60] + [sent_at]
    return PacingState(recent, since_break, day, day_count, sent_at + wait * pace_factor)


def typing_seconds(text: str, s: Settings) -> float:
    """How long "typing…" shows before a message: proportional to its length, within bounds."""
    return min(s.typing_max_s, max(s.typing_min_s, len(text) / s.typing_chars_per_s))


def simulate(
    s: Settings,
    cap: int,
    start: float,
    seconds: float,
    rng: random.Random,
    text: str,
    pace_factor: float = 1.0,
) -> list[float]:
    """Send times an always-busy account achieves over `seconds` under the rules (wait, type, send).

    The sender's loop in simulated time: what the rules allow, for tests, benchmarks and ETAs."""
    state = PacingState()
    now = start
    sent: list[float] = []
    while True:
        now = next_send_at(state, now, cap, s) + typing_seconds(text, s)
        if now >= start + seconds:
            return sent
        sent.append(now)
        state = after_send(state, now, rng, s, pace_factor)


def mean_seconds_per_message(text: str, s: Settings, pace_factor: float = 1.0) -> float:
    """The average time per message the rules allow an always-busy account, ignoring the daily cap:
    the long-run rate, the one formula the plan (services/planner.py) and the benchmarks use."""
    gaps = (s.break_every - 1) * (s.gap_min_s + s.gap_max_s) / 2 + (s.break_min_s + s.break_max_s) / 2
    drawn = gaps / s.break_every + (s.delay_min_s + s.delay_max_s) / 2
    return max(drawn * pace_factor + typing_seconds(text, s), 60 / s.per_minute)


def retry_at(attempts_before: int, now: datetime, s: Settings) -> datetime:
    """Exponential back-off: retry_backoff_s, twice that, four times… after the 1st, 2nd, 3rd attempt."""
    return now + timedelta(seconds=s.retry_backoff_s * 2**attempts_before)


def busiest_window(times: list[float], width: float = 60) -> int:
    """The most sends within any `width` seconds of the sorted `times`."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
