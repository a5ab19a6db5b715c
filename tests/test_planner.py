"""The plan against a run in simulated time: five accounts (one warming up) sending a contract to
recipients in three time zones under quiet hours, each send paced by the real rules."""

from __future__ import annotations

import heapq
import random
from datetime import UTC, datetime, time, timedelta

import pytest

from models import Account
from services import estimates, planner
from services.pacing import (
    PacingState,
    after_send,
    daily_cap,
    next_send_at,
    typing_seconds,
)
from services.timezones import SendWindow
from settings import Settings

TEXT = "Hello! Our autumn sale starts today: 20% off everything until Sunday."
START = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)  # a Monday, 08:00 in Moscow
WINDOW = SendWindow(time(9), time(21), frozenset(range(1, 8)))
ZONES = {"Europe/Moscow": 3600, "Asia/Vladivostok": 1500, "Europe/Kaliningrad": 900}
ACCOUNTS = [  # (age in days, warm-up plan)
    (0.5, [100, 200, 400]),
    (3, None),
    (10, None),
    (40, None),
    (40, None),
]


def simulated_finish(s: Settings, seed: int, pace_factor: float = 1.0) -> datetime:
    """Each account waits as the rules say, types, and sends to someone whose window is open."""
    rng = random.Random(seed)
    left = dict(ZONES)
    states = [PacingState() for _ in ACCOUNTS]
    queue = [(START.timestamp(), i) for i in range(len(ACCOUNTS))]
    last = START.timestamp()
    while any(left.values()):
        at, i = heapq.heappop(queue)
        age, plan = ACCOUNTS[i]
        days = (datetime.fromtimestamp(at, UTC).date() - START.date()).days
        due = next_send_at(states[i], at, daily_cap(age + days, s, plan), s)
        if due > at:
            heapq.heappush(queue, (due, i))
            continue
        now = datetime.fromtimestamp(at, UTC)
        open_zones = [z for z in WINDOW.open_zones(list(left), now) if left[z]]
        if not open_zones:
            opening = WINDOW.next_open([z for z in left if left[z]], now)
            assert opening is not None
            heapq.heappush(queue, (opening.timestamp(), i))
            continue
        sent_at = at + typing_seconds(TEXT, s)
        left[rng.choice(open_zones)] -= 1
        states[i] = after_send(states[i], sent_at, rng, s, pace_factor)
        last = max(last, sent_at)
        heapq.heappush(queue, (sent_at, i))
    return datetime.fromtimestamp(last, UTC)


def planned_finish(s: Settings, pace_factor: float = 1.0) -> datetime | None:
    """The plan of the same accounts, each as services/estimates.py shows it to the planner."""
    senders = [
        estimates.sender(
            Account(created_at=START - timedelta(days=age), warmup_plan=plan, pace_factor=pace_factor),
            TEXT,
            1,
            START,
            s,
        )
        for age, plan in ACCOUNTS
    ]
    return planner.finish_at(senders, dict(ZONES), WINDOW, START)


@pytest.mark.parametrize(("seed", "pace_factor"), [(1, 1.0), (2, 1.0), (3, 3.0)])
def test_the_plan_is_within_ten_percent_of_a_simulated_run(seed: int, pace_factor: float) -> None:
    """Also when a health rule slows every account down (gaps and breaks three times as long)."""
    s = Settings()
    simulated = simulated_finish(s, seed, pace_factor)
    planned = planned_finish(s, pace_factor)
    assert planned is not None
    took = (simulated - START).total_seconds()
    assert took > 86400, "the run spans days, caps and nights"
    assert abs((planned - simulated).total_seconds()) <= 0.10 * took, (planned, simulated)


def test_no_account_that_can_send_means_no_plan_and_nothing_left_means_now() -> None:
    gone = planner.Sender(5.0, lambda _day: 500, available_from=datetime.max.replace(tzinfo=UTC))
    assert planner.finish_at([gone], {"Europe/Moscow": 10}, WINDOW, START) is None
    assert planner.finish_at([gone], {}, WINDOW, START) == START


def test_more_accounts_finish_sooner_in_proportion() -> None:
    def finish(n: int) -> timedelta:
        senders = [planner.Sender(10.0, lambda _day: 500) for _ in range(n)]
        done = planner.finish_at(senders, {"Europe/Moscow": 4000}, WINDOW, START)
        assert done is not None
        return done - START

    one, five = finish(1), finish(5)
    assert one > timedelta(days=7) and five < timedelta(days=2), (one, five)
