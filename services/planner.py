"""When a contract will finish: a pure plan from its pool's accounts and its recipients' windows.

Time advances in steps. In each step every available account sends at its long-run pacing rate
(services/pacing.py; slower while a health rule slows it down), no more than what is left of its
daily cap (by its warm-up plan or its age; a cap counts UTC days, as the pacing does), shared evenly
between the running contracts it serves; only recipients whose local time is inside the window are
sent to. Steps in which nobody can send
(night for every recipient, every account at its cap) are skipped whole. The last step is
interpolated, so the plan is not rounded to a step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.timezones import SendWindow

STEP = timedelta(minutes=15)
HORIZON = timedelta(days=3650)


@dataclass
class Sender:
    """One account as the plan sees it."""

    seconds_per_message: float
    cap_on: Callable[[int], int]  # its daily cap on the UTC day `d` days from today (0: today)
    sent_today: int = 0
    available_from: datetime | None = None  # None: now; datetime.max for never
    share: float = 1.0  # its part of the account: 1 / the running contracts it serves
    cap_left: float = field(init=False, default=0.0)

    def start_day(self, day: int, sent: int = 0) -> None:
        self.cap_left = max(0.0, (self.cap_on(day) - sent) * self.share)

    def capacity(self, at: datetime, seconds: float) -> float:
        if self.available_from is not None and self.available_from > at:
            return 0.0
        return min(self.cap_left, seconds / self.seconds_per_message * self.share)


def finish_at(
    senders: list[Sender], remaining: dict[str, float], window: SendWindow, now: datetime
) -> datetime | None:
    """When the last of `remaining` (recipients per time zone) is sent, or None if never."""
    left = {zone: n for zone, n in remaining.items() if n > 0}
    if not left:
        return now
    if not any(s.available_from is None or s.available_from < now + HORIZON for s in senders):
        return None
    today = now.astimezone(UTC).date()
    for s in senders:
        s.start_day(0, s.sent_today)
    t, day = now, 0
    while t < now + HORIZON:
        if (t.astimezone(UTC).date() - today).days != day:
            day = (t.astimezone(UTC).date() - today).days
            for s in senders:
                s.start_day(day)
        open_zones = window.open_zones(list(left), t)
        step_end = min(t + STEP, _midnight_after(t))
        seconds = (step_end - t).total_seconds()
        capacities = [s.capacity(t, seconds) for s in senders]
        total = sum(capacities)
        if not open_zones or total <= 0:
            t = _next_moment(t, senders, window, list(left), open_zones) or now + HORIZON
            continue
        waiting = sum(left[z] for z in open_zones)
        done = min(total, waiting)
        for s, c in zip(senders, capacities, strict=True):
            s.cap_left -= c * done / total
        for z in open_zones:
            left[z] -= left[z] * done / waiting
            if left[z] <= 1e-9:
                del left[z]
        if not left:
            return t + timedelta(seconds=seconds * done / total)
        t = step_end
    return None


def _midnight_after(t: datetime) -> datetime:
    day = t.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _next_moment(
    t: datetime, senders: list[Sender], window: SendWindow, zones: list[str], open_zones: list[str]
) -> datetime | None:
    """The next time anything can change when nothing can be sent at `t`: a window opening, an
    account coming back, or midnight (caps start again)."""
    candidates = [_midnight_after(t)]
    if not open_zones and (opening := window.next_open(zones, t)) is not None:
        candidates.append(opening)
    candidates += [s.available_from for s in senders if s.available_from is not None and s.available_from > t]
    return min(candidates)
