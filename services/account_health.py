"""Each account's health: what it did over the last HEALTH_WINDOW_S (sent, failed, retried, rate limits,
disconnects), and the rules that slow it down, pause it for HEALTH_COOLDOWN_S, or let it be.

The figures come from send_minutes (written with the outcomes) and account_signals (written where the
network's rate limits and disconnects are reported). A pause starts the figures afresh from the next
minute (accounts.health_since), so the failures that paused an account do not pause it again once it
resumes. The rules are pure functions of the figures; `apply_rules` applies them to every account with
something in the window, and brings back task-driven accounts whose network reconnected them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q
from tortoise.functions import Sum

from models import Account, AccountSignal, AccountStatus, SendMinute, Signal
from services import session_events
from services.accounts import LINKED
from services.queue import kick_account
from settings import Settings, get_settings
from texts import say
from wa import registry

SIGNAL_FIGURES = {Signal.RATE_LIMIT: "rate_limits", Signal.DISCONNECT: "disconnects"}


@dataclass(frozen=True)
class Figures:
    """What an account did from `since` on."""

    since: datetime
    sent: int = 0
    failed: int = 0
    retried: int = 0  # transient errors, sent again later
    rate_limits: int = 0
    disconnects: int = 0

    @property
    def sends(self) -> int:
        return self.sent + self.failed

    @property
    def failure_share(self) -> float:
        return self.failed / self.sends if self.sends else 0.0


def _failures(f: Figures, share: float, s: Settings) -> str | None:
    if f.sends < s.health_min_sends or f.failure_share < share:
        return None
    share_now = f"{f.failure_share:.0%} ≥ {share:.0%}"
    failed = "{failed} of {sends} sends failed since {since:time} ({share})"
    return say(failed, failed=f.failed, sends=f.sends, since=f.since, share=share_now)


def _count(n: int, limit: int, what: str, f: Figures) -> str | None:
    if not 0 < limit <= n:
        return None
    return say("{n} {what} since {since:time} (≥ {limit})", n=n, what=what, since=f.since, limit=limit)


def slow_reason(f: Figures, s: Settings) -> str | None:
    """Why the account should send more slowly (its gaps and breaks stretched), or None."""
    return _failures(f, s.health_slow_failure_share, s) or _count(
        f.retried, s.health_slow_retried, say("transient errors"), f
    )


def pause_reason(f: Figures, s: Settings) -> str | None:
    """Why the account should pause for the cool-down, or None."""
    return (
        _failures(f, s.health_pause_failure_share, s)
        or _count(f.rate_limits, s.health_pause_rate_limits, say("rate limits"), f)
        or _count(f.disconnects, s.health_pause_disconnects, say("disconnects"), f)
    )


@dataclass(frozen=True)
class Verdict:
    pace_factor: float  # 1: its own pace
    pause: str | None  # why it pauses, if it does


HEALTHY = Verdict(1.0, None)


def verdict(f: Figures, s: Settings) -> Verdict:
    return Verdict(s.health_slow_factor if slow_reason(f, s) else 1.0, pause_reason(f, s))


def window_start(now: datetime, s: Settings) -> datetime:
    """The first minute of the window (the figures are counted by the minute)."""
    return (now - timedelta(seconds=s.health_window_s)).replace(second=0, microsecond=0)


async def _totals(since: datetime, account_ids: list[str] | None) -> dict[str, Figures]:
    """The figures from `since` on of these accounts (None: of every account with any), by account."""
    sends = SendMinute.filter(minute__gte=since, account_id__isnull=False)
    signals = AccountSignal.filter(minute__gte=since)
    if account_ids is not None:
        sends, signals = sends.filter(account_id__in=account_ids), signals.filter(account_id__in=account_ids)
    totals: dict[str, dict[str, int]] = defaultdict(dict)
    rows = await (
        sends.annotate(n_sent=Sum("sent"), n_failed=Sum("failed"), n_retried=Sum("retried"))
        .group_by("account_id")
        .values_list("account_id", "n_sent", "n_failed", "n_retried")
    )
    for account_id, sent, failed, retried in rows:
        totals[account_id].update(sent=int(sent), failed=int(failed), retried=int(retried))
    rows = (
        await signals.annotate(total=Sum("n"))
        .group_by("account_id", "kind")
        .values_list("account_id", "kind", "total")
    )
    for account_id, kind, n in rows:
        totals[account_id][SIGNAL_FIGURES[Signal(kind)]] = int(n)
    return {account_id: Figures(since, **values) for account_id, values in totals.items()}


async def figures(
    now: datetime, resets: dict[str, datetime | None], account_ids: list[str] | None = None
) -> dict[str, Figures]:
    """Each account's figures over the window (of these accounts, or of every account with anything
    in it), counted from `resets[account]` instead where that is later (its last pause)."""
    start = window_start(now, get_settings())
    found = await _totals(start, account_ids)
    for account_id, since in resets.items():
        if since is not None and since > start:
            found[account_id] = (await _totals(since, [account_id])).get(account_id, Figures(since))
    return found


@dataclass(frozen=True)
class Health:
    """An account's health as the API and the dashboard show it."""

    figures: Figures
    pace_factor: float
    slowed: str | None  # why it is slowed down, while it is
    paused_until: datetime | None


async def health_of(accounts: list[Account], now: datetime | None = None) -> dict[str, Health]:
    now = now or datetime.now(UTC)
    s = get_settings()
    # One account: its own rows; several (a listing): every account's rows in the window at once.
    ids = [a.id for a in accounts] if len(accounts) == 1 else None
    found = await figures(now, {a.id: a.health_since for a in accounts}, ids)
    out = {}
    for a in accounts:
        f = found.get(a.id) or Figures(window_start(now, s))
        slowed = slow_reason(f, s) if a.pace_factor > 1 else None
        resting = a.paused_until if a.paused_until and a.paused_until > now else None
        out[a.id] = Health(f, a.pace_factor, slowed, resting)
    return out


async def apply_rules(now: datetime) -> int:
    """Bring back the accounts whose network reconnected them, then apply the rules to every account
    with anything in the window, or slowed down: slow it down or let it go at its own pace again,
    and pause a linked one (its figures start afresh). Reconcile runs it; returns how many accounts
    it paused."""
    s = get_settings()
    await reconnect()
    start = window_start(now, s)
    marked = Q(health_since__gt=start) | Q(pace_factor__gt=1)
    resets = dict(await Account.filter(marked).values_list("id", "health_since"))
    found = await figures(now, resets)
    verdicts = {a: verdict(found.get(a) or Figures(start), s) for a in {*found, *resets}}
    acting = [a for a, v in verdicts.items() if v != HEALTHY or a in resets]
    next_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    paused = 0
    for account in await Account.filter(id__in=acting):
        v = verdicts[account.id]
        factor = v.pace_factor if account.use_limits else 1.0
        if factor != account.pace_factor:
            await Account.filter(id=account.id).update(pace_factor=factor)
        if v.pause is not None and account.status in LINKED:
            left = (account.paused_until - now).total_seconds() if account.paused_until else 0
            seconds = max(s.health_cooldown_s, left)  # a longer rest (rate-limited) is not cut short
            await session_events.rest(account.id, v.pause, seconds, health_since=next_minute)
            paused += 1
    return paused


async def reconnect() -> int:
    """Make the DISCONNECTED accounts of task-driven transports CONNECTED again once their transport
    says they can send (a session reconnects by itself), and drive them. Returns how many."""
    back = 0
    disconnected = Account.filter(
        status=AccountStatus.DISCONNECTED, transport__in=registry.names(task_driven=True)
    )
    for account in await disconnected:
        check = registry.transport(account.transport).reconnected
        if check is not None and await check(account):
            await session_events.set_status(account.id, AccountStatus.CONNECTED)
            await kick_account(account.id)
            back += 1
    return back
