"""Pacing rules over a simulated day: no sleeping, an injected clock and random source."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

import pytest

from services import pacing
from services.pacing import (
    PacingState,
    after_send,
    busiest_window,
    daily_cap,
    mean_seconds_per_message,
    next_send_at,
    retry_at,
    typing_seconds,
)
from settings import Settings

DAY = 86_400.0
START = datetime(2026, 1, 5, tzinfo=UTC).timestamp()


def simulate(
    s: Settings, cap: int, seconds: float, seed: int = 7, text: str = "x" * 60, pace_factor: float = 1.0
) -> list[float]:
    return pacing.simulate(s, cap, START, seconds, random.Random(seed), text, pace_factor)


def test_default_rules_over_a_day_hold_every_limit() -> None:
    s = Settings()
    cap = daily_cap(0, s)
    sent = simulate(s, cap, DAY)
    assert len(sent) == cap == 500, "a new account sends exactly its daily cap in a day"
    assert busiest_window(sent) <= s.per_minute
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    for i, gap in enumerate(gaps, start=1):
        if i % s.break_every == 0:
            assert gap >= s.break_min_s + s.delay_min_s, f"no break after send {i}"
        else:
            assert s.gap_min_s + s.delay_min_s <= gap < s.break_min_s, f"gap {gap} after send {i}"


def test_daily_cap_resumes_the_next_day_and_grows_with_account_age() -> None:
    s = Settings()
    assert daily_cap(0, s) == 500
    assert daily_cap(15, s) == 750
    assert daily_cap(400, s) == 1000
    sent = simulate(s, 500, 2 * DAY)
    per_day = [sum(1 for t in sent if START + d * DAY <= t < START + (d + 1) * DAY) for d in (0, 1)]
    assert per_day == [500, 500]


def test_achieved_rate_is_within_five_percent_of_what_the_rules_allow() -> None:
    s = Settings()
    text = "x" * 60
    allowed = DAY / mean_seconds_per_message(text, s)
    sent = simulate(s, cap=10**9, seconds=DAY, text=text)
    assert abs(len(sent) - allowed) / allowed < 0.05, (len(sent), allowed)


def test_rolling_minute_limit_binds_when_gaps_are_short() -> None:
    s = Settings(gap_min_s=0, gap_max_s=0, delay_min_s=0, delay_max_s=0, break_every=10**6, typing_min_s=0.5)
    sent = simulate(s, cap=10**9, seconds=3600, text="")
    assert busiest_window(sent) == s.per_minute
    achieved_per_minute = len(sent) / 60
    assert achieved_per_minute == pytest.approx(s.per_minute, rel=0.05)


def test_typing_time_grows_with_the_text_within_bounds() -> None:
    s = Settings()
    assert typing_seconds("", s) == s.typing_min_s
    assert typing_seconds("x" * 60, s) == pytest.approx(60 / s.typing_chars_per_s)
    assert typing_seconds("x" * 60, s) < typing_seconds("x" * 80, s)
    assert typing_seconds("x" * 10_000, s) == s.typing_max_s


def test_state_survives_a_round_trip_through_json() -> None:
    s = Settings()
    state = after_send(PacingState(), START, random.Random(1), s)
    assert PacingState.load(state.dump()) == state


def test_retries_back_off_doubling_from_the_setting() -> None:
    s = Settings(retry_backoff_s=2)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert [(retry_at(n, now, s) - now).total_seconds() for n in range(4)] == [2, 4, 8, 16]


def test_a_warm_up_plan_sets_the_cap_for_its_days_then_the_cap_by_age_applies() -> None:
    s = Settings()
    plan = [20, 40, 80]
    assert [daily_cap(age, s, plan) for age in (0, 0.9, 1, 2.5)] == [20, 20, 40, 80]
    assert daily_cap(3, s, plan) == daily_cap(3, s) == 550


def test_a_day_whose_cap_is_zero_sends_nothing_that_day() -> None:
    """A warm-up plan may rest an account for a day: not even its first message of the day leaves."""
    s = Settings()
    assert next_send_at(PacingState(), START, 0, s) == START + DAY, "the first send waits for midnight"
    yesterday = PacingState(day="2026-01-04", day_count=30)
    assert next_send_at(yesterday, START + 3600, 0, s) == START + DAY
    assert simulate(s, cap=0, seconds=DAY) == []


def test_a_slowed_account_waits_longer_between_sends_but_not_within_the_minute_cap() -> None:
    s = Settings()
    normal = after_send(PacingState(), START, random.Random(3), s)
    slowed = after_send(PacingState(), START, random.Random(3), s, pace_factor=2)
    assert slowed.not_before - START == pytest.approx(2 * (normal.not_before - START))
    assert (slowed.recent, slowed.day_count, slowed.since_break) == (normal.recent, normal.day_count, 1)
    text = "x" * 60
    for factor in (1, 2, 3.5):
        sent = simulate(s, cap=10**9, seconds=DAY, text=text, pace_factor=factor)
        allowed = DAY / mean_seconds_per_message(text, s, factor)
        assert abs(len(sent) - allowed) / allowed < 0.05, (factor, len(sent), allowed)
    fast = Settings(
        gap_min_s=0, gap_max_s=0, delay_min_s=0, delay_max_s=0, break_every=10**6, typing_min_s=0.5
    )
    sent = simulate(fast, cap=10**9, seconds=3600, text="", pace_factor=4)
    assert busiest_window(sent) == fast.per_minute, "nothing to stretch: the per-minute cap still binds"
