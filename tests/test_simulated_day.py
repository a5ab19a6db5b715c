"""Issue #12's simulated day, with the real driver: five warming-up accounts send one pool contract
to recipients in five time zones under quiet hours, through `tasks.drive.drive` and the real
database, over 24 simulated hours (tests/sim_clock.py) that take seconds.

The day starts on Monday 2026-11-30 at 17:00 UTC. Windows shut and open while accounts send:
Moscow's at 18:00 UTC, São Paulo's shuts as Tokyo's opens at midnight (when the caps start again),
New York's shuts at 02:00 UTC. Every account is on a warm-up plan of two days: the day ends on its
second UTC day, so each account has two caps to reach, and does.

The driver checks a recipient's window when it claims the recipient and again after "typing…": a
message claimed in a window's last seconds waits for the next window rather than leave after it.
"""

from __future__ import annotations

import itertools
import random
import time as wall
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from models import Account, PoolMember, Recipient, RecipientStatus
from models.sql import execute
from services import accounts, contracts, lease
from services.pacing import (
    PacingState,
    busiest_window,
    daily_cap,
    next_send_at,
    simulate,
    typing_seconds,
)
from services.timezones import SendWindow, zone_of
from settings import Settings
from tasks.drive import IDLE_RECHECK, drive
from tests.conftest import TABLES
from tests.sim_clock import SimClock

START = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # a Monday: 20:00 in Moscow, 17:00 in London
END = START + timedelta(days=1)
MIDNIGHT = datetime(2026, 12, 1, tzinfo=UTC)
# Created at the start of the UTC day the simulation starts on: each account's day of age (its
# warm-up plan's day) is then the UTC day its pacing counts sends on.
CREATED = datetime(2026, 11, 30, tzinfo=UTC)
PLANS = [[30, 60], [60, 120], [120, 40], [200, 340], [290, 150]]
# Numbers (a format and the zone each gets) and how many of each: more than the day can send.
NUMBERS = {
    "7916{:07d}": "Europe/Moscow",
    "81901{:07d}": "Asia/Tokyo",
    "44207{:07d}": "Europe/London",
    "551191{:07d}": "America/Sao_Paulo",
    "12122{:06d}": "America/New_York",
}
PER_ZONE = 800
OPENS, SHUTS = time(9), time(21)
WINDOW = {"start": "09:00", "end": "21:00", "days": [1, 2, 3, 4, 5, 6, 7]}
PACING = (
    "per_minute",
    "break_every",
    "break_min_s",
    "break_max_s",
    "gap_min_s",
    "gap_max_s",
    "delay_min_s",
    "delay_max_s",
    "daily_cap_min",
    "daily_cap_max",
    "daily_cap_ramp_days",
    "typing_chars_per_s",
    "typing_min_s",
    "typing_max_s",
)


def message(i: int) -> str:
    """Every message is as long as every other: one typing time, as `simulate` assumes."""
    return f"Hello! Our winter sale starts today: 20% off everything until Sunday. Ref {i:05d}"


def product_settings() -> Settings:
    """The product's defaults: the suite's environment shortens task_budget_s, a worker's is 10 s."""
    s = Settings(task_budget_s=Settings.model_fields["task_budget_s"].default)
    changed = [f for f in PACING if getattr(s, f) != Settings.model_fields[f].default]
    assert not changed, f"pacing settings changed by the environment: {changed}"
    return s


S = product_settings()
TYPING = typing_seconds(message(0), S)


@dataclass(frozen=True)
class Send:
    """A message as the network saw it leave, in simulated time."""

    account: str
    phone: str
    at: datetime
    typing_from: datetime  # when "typing…" began: the moment of the claim (it takes no virtual time)
    state: PacingState  # the pacing state stored on the account when it left (after its last send)


class SimSender:
    """The sandbox's part in a drive, on the simulated clock: "typing…" waits virtual time (the real
    sandbox sleeps in real time), and each send is logged with the account's stored pacing state."""

    def __init__(self, account_id: str, clock: SimClock, log: list[Send]) -> None:
        self.account_id, self.clock, self.log = account_id, clock, log
        self.typing_from: datetime | None = None

    async def show_typing(self, phone: str, seconds: float) -> None:
        self.typing_from = self.clock.now()
        await self.clock.sleep(seconds)

    async def send(self, phone: str, text: str, message_id: str, attempt: int) -> None:
        stored = await Account.filter(id=self.account_id).first().values_list("pacing_state", flat=True)
        assert self.typing_from is not None, "a paced send shows typing first"
        self.log.append(
            Send(self.account_id, phone, self.clock.now(), self.typing_from, PacingState.load(stored))
        )
        self.typing_from = None

    async def close(self) -> None:
        return None


async def participant(
    account_id: str, token: str, clock: SimClock, log: list[Send], until: datetime = END
) -> None:
    """What a worker does for one account: drive it, then wait until the account's stored
    `next_due_at` (the reconcile ticker's kick), or a short while if it stored none."""
    sender = SimSender(account_id, clock, log)
    account = await Account.get(id=account_id)
    at_once = 0
    while clock.now() < until:
        before = clock.now()
        more = await drive(account, token, sender, S, clock)
        account = await Account.get(id=account_id)
        wake = clock.now() if more else account.next_due_at or clock.now() + IDLE_RECHECK
        at_once = at_once + 1 if wake <= before else 0
        assert at_once < 100, f"{account_id} asks to be driven again at once, again and again"
        await clock.sleep_until(min(wake, until))


@dataclass
class Day:
    """What a simulated day left: the network's log, the rows, and what it took."""

    accounts: list[str]
    caps: dict[str, dict[date, int]]
    sends: list[Send]
    rows: list[dict[str, Any]]
    sent_by: dict[str, int]
    wall_s: float
    advances: int
    by_account: dict[str, list[Send]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sends.sort(key=lambda x: x.at)
        for send in self.sends:
            self.by_account.setdefault(send.account, []).append(send)


def cap_on(plan: list[int], day: date) -> int:
    """The cap on a UTC day: by the plan's day of the account's age (its age at that day's start)."""
    start = datetime.combine(day, time(), UTC)
    return daily_cap((start - CREATED).total_seconds() / 86400, S, plan)


def recipients() -> tuple[list[str], list[str]]:
    """The zones interleaved: a claim (lowest id first) would reach a shut zone's rows at once."""
    phones = [number.format(i) for i in range(PER_ZONE) for number in NUMBERS]
    assert Counter(map(zone_of, phones)) == dict.fromkeys(NUMBERS.values(), PER_ZONE)
    return phones, [message(i) for i in range(len(phones))]


@pytest.fixture(scope="module")
async def day(database: str, broker_started: None) -> Day:
    """Run the day once; the tests below each check one promise of it."""
    for table in TABLES:
        await execute(f"DELETE FROM {table}", [])
    clock = SimClock(START)
    ids = [
        (await accounts.create_account(f"warming {i}", "sandbox", warmup_plan=p)).id
        for i, p in enumerate(PLANS)
    ]
    await Account.filter(id__in=ids).update(created_at=CREATED)
    phones, texts = recipients()
    created = await contracts.create_contract(ids, "simulated day", phones, texts, send_window=WINDOW)
    contract = created.contract.id
    await contracts.start_contract(contract)
    tokens = [await lease.acquire(a, datetime.now(UTC), ttl_s=3600) for a in ids]
    assert all(tokens)
    log: list[Send] = []
    began = wall.monotonic()
    await clock.run(*(participant(a, t, clock, log) for a, t in zip(ids, tokens, strict=True)))
    took = wall.monotonic() - began
    rows = await Recipient.filter(contract_id=contract).values(
        "phone_number", "status", "account_id", "sent_at", "time_zone"
    )
    sent_by = dict(await PoolMember.filter(contract_id=contract).values_list("account_id", "sent"))
    days = [START.date(), MIDNIGHT.date()]
    caps = {a: {d: cap_on(p, d) for d in days} for a, p in zip(ids, PLANS, strict=True)}
    return Day(ids, caps, log, rows, sent_by, took, clock.advances)


def inside(send: Send, at: datetime) -> bool:
    """Whether `at` is inside the window in the recipient's local time."""
    return OPENS <= at.astimezone(ZoneInfo(zone_of(send.phone))).time() < SHUTS


# Windows that change while accounts send: (when, the zone, whether it shuts or opens then).
CHANGES = [
    (START + timedelta(hours=1), "Europe/Moscow", "shuts"),
    (MIDNIGHT, "Asia/Tokyo", "opens"),
    (MIDNIGHT + timedelta(hours=2), "America/New_York", "shuts"),
]


def test_no_message_leaves_outside_the_window_of_its_recipients_local_time(day: Day) -> None:
    claimed_outside = [(s.phone, s.typing_from) for s in day.sends if not inside(s, s.typing_from)]
    assert not claimed_outside, f"{len(claimed_outside)} claimed outside 09:00–21:00 local"
    late = [(s.phone, s.at) for s in day.sends if not inside(s, s.at)]
    assert not late, f"{len(late)} left after the window shut"
    zones = Counter(zone_of(s.phone) for s in day.sends)
    assert set(zones) == set(NUMBERS.values()), f"every zone was sent to: {zones}"
    for at, zone, change in CHANGES:
        before = {zone_of(s.phone) for s in day.sends if at - timedelta(minutes=10) <= s.at < at}
        after = {zone_of(s.phone) for s in day.sends if at <= s.at < at + timedelta(minutes=30)}
        assert after and zone in (before if change == "shuts" else after), f"sending as {zone} {change}"


async def test_a_message_claimed_in_the_windows_last_seconds_waits_for_the_next_window(
    db: str, broker_started: None
) -> None:
    start = datetime(2026, 11, 30, 17, 59, 58, tzinfo=UTC)  # 20:59:58 in Moscow
    account = await accounts.create_account("late", "sandbox")
    await Account.filter(id=account.id).update(created_at=CREATED)
    made = await contracts.create_contract(account.id, "late", ["79160000000"], [message(0)], WINDOW)
    await contracts.start_contract(made.contract.id)
    token = await lease.acquire(account.id, datetime.now(UTC), ttl_s=3600)
    assert token is not None
    clock, log = SimClock(start), list[Send]()
    await clock.run(participant(account.id, token, clock, log, until=start + timedelta(minutes=1)))
    assert log == [], "typing… ended after 21:00 in Moscow: not sent"
    row = await Recipient.get(contract_id=made.contract.id)
    assert (row.status, row.attempts) == (RecipientStatus.QUEUED, 0), "waits for 09:00, not failed"


def test_no_account_sends_more_than_its_daily_cap_on_any_utc_day_and_each_reaches_it(day: Day) -> None:
    for account in day.accounts:
        per_day = Counter(s.at.date() for s in day.by_account[account])
        assert per_day == day.caps[account], f"{account}: sent {per_day}, caps {day.caps[account]}"


def test_pacing_holds_for_every_account(day: Day) -> None:
    """Never more than per_minute in 60 s, never closer than the shortest gap plus typing, and no
    claim before the rules allowed one, given the state the account had stored."""
    shortest = S.gap_min_s + S.delay_min_s + TYPING
    for account in day.accounts:
        sends = day.by_account[account]
        times = [s.at.timestamp() for s in sends]
        assert busiest_window(times) <= S.per_minute
        closest = min(b - a for a, b in itertools.pairwise(times))
        assert closest >= shortest - 1e-6, f"{account}: two sends {closest:.2f} s apart"
        for s in sends:
            claimed = s.typing_from.timestamp()
            allowed = next_send_at(s.state, claimed, day.caps[account][s.typing_from.date()], S)
            assert allowed <= claimed + 1e-6, f"{account} claimed at {s.typing_from}, allowed from {allowed}"
            assert s.at.timestamp() == pytest.approx(claimed + TYPING, abs=1e-5), "typed, then sent"


def test_each_recipient_is_sent_once_by_one_account_and_the_pool_shares_them(day: Day) -> None:
    phones = [s.phone for s in day.sends]
    assert len(phones) == len(set(phones)), "no recipient sent twice"
    sent = {r["phone_number"]: r for r in day.rows if r["status"] == RecipientStatus.SENT}
    assert set(sent) == set(phones), "the database says sent exactly what the network got"
    for s in day.sends:
        row = sent[s.phone]
        assert row["account_id"] == s.account, "recorded for the account that sent it"
        assert abs((row["sent_at"] - s.at).total_seconds()) < 1e-3, "recorded at the simulated time"
    assert not [r for r in day.rows if r["status"] not in (RecipientStatus.SENT, RecipientStatus.QUEUED)]
    counts = Counter(s.account for s in day.sends)
    assert day.sent_by == counts and all(counts[a] > 0 for a in day.accounts), day.sent_by


class Replay(random.Random):
    """The waits a driver drew (a gap or break, with its delay), given back to `pacing.after_send` in
    order: each as the first of its two draws, 0 as the second."""

    def __init__(self, waits: list[float]) -> None:
        super().__init__()
        self.draws = iter(itertools.chain.from_iterable((w, 0.0) for w in waits))

    def uniform(self, a: float, b: float) -> float:
        return next(self.draws, 0.0)


def drawn_waits(sends: list[Send]) -> list[float]:
    """The wait drawn after each send but the last: its next send left under the state it stored."""
    waits = []
    for sent, following in itertools.pairwise(sends):
        assert following.state.recent[-1] == pytest.approx(sent.at.timestamp(), abs=1e-5)
        waits.append(following.state.not_before - sent.at.timestamp())
    return waits


def test_each_account_achieves_95_percent_of_the_rate_the_rules_allow(day: Day) -> None:
    """What the rules allow an account in a UTC day of the simulation: `pacing.simulate` (the rules'
    own always-busy sender) from the day's start, with the account's cap for that day and the very
    waits the driver drew, replayed, so that chance cancels out. An account had work whenever it
    could send: the recipients' windows together cover every hour, and no zone ran out. The rate
    achieved is the cap over the time the driver took to send it; the rate allowed, the cap over the
    time `simulate` takes. The waits themselves must be the rules' draws: within their bounds, a
    break after every `break_every` sends, and on average the rules' means."""
    window = SendWindow.of(WINDOW)
    minutes = (START + timedelta(minutes=m) for m in range(24 * 60))
    assert all(window.open_zones(list(NUMBERS.values()), t) for t in minutes), "always a window open"
    left = Counter(r["time_zone"] for r in day.rows if r["status"] == RecipientStatus.QUEUED)
    assert set(left) == set(NUMBERS.values()), f"work left in every zone: {left}"
    gaps, breaks, figures = [], [], []
    for account in day.accounts:
        sends = day.by_account[account]
        waits = drawn_waits(sends)
        for n, wait in enumerate(waits, start=1):
            if n % S.break_every == 0:
                assert S.break_min_s + S.delay_min_s <= wait <= S.break_max_s + S.delay_max_s, (n, wait)
                breaks.append(wait)
            else:
                assert S.gap_min_s + S.delay_min_s <= wait <= S.gap_max_s + S.delay_max_s, (n, wait)
                gaps.append(wait)
        for begins, ends in ((START, MIDNIGHT), (MIDNIGHT, END)):
            cap = day.caps[account][begins.date()]
            first = next(i for i, s in enumerate(sends) if s.at >= begins)
            took = (sends[first + cap - 1].at - begins).total_seconds()
            rules = Replay(waits[first : first + cap - 1])
            allowed = simulate(S, cap, begins.timestamp(), (ends - begins).total_seconds(), rules, message(0))
            assert len(allowed) == cap, "the rules allow the cap within the day"
            figures.append((account, begins, cap, took, allowed[-1] - begins.timestamp()))
    report = "\n".join(
        f"{a} from {b:%d %H:%M}: {cap} sends in {took:.0f} s, the rules allow {rules:.0f} s: "
        f"{rules / took:.1%}"
        for a, b, cap, took, rules in figures
    )
    print(f"\n{report}\nwall time {day.wall_s:.1f} s, {day.advances} advances of the clock")
    assert all(rules / took >= 0.95 for _, _, _, took, rules in figures), report
    gap_mean = (S.gap_min_s + S.gap_max_s + S.delay_min_s + S.delay_max_s) / 2
    break_mean = (S.break_min_s + S.break_max_s + S.delay_min_s + S.delay_max_s) / 2
    assert sum(gaps) / len(gaps) == pytest.approx(gap_mean, rel=0.05)
    assert sum(breaks) / len(breaks) == pytest.approx(break_mean, rel=0.10)
