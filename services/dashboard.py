"""What the dashboard shows, read without touching a contract's million rows: accounts with today's
sends against their cap and their health, a contract's progress, rate and ETA, and its sends per
minute."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from models import Account, Contract, RecipientStatus, SendMinute, StatusCount
from services import account_health, estimates, pools, waiting
from services.accounts import cap_today
from services.contracts import get_contract, status_counts

RATE_WINDOW = timedelta(minutes=5)


@dataclass
class AccountRow:
    account: Account
    sent_today: int
    daily_cap: int
    health: account_health.Health


async def accounts(now: datetime | None = None) -> list[AccountRow]:
    now = now or datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    sent_today: dict[str, int] = defaultdict(int)
    for account_id, sent in await SendMinute.filter(minute__gte=midnight).values_list("account_id", "sent"):
        sent_today[account_id] += sent
    listed = await Account.all().order_by("created_at", "id")
    health = await account_health.health_of(listed, now)
    return [AccountRow(a, sent_today[a.id], cap_today(a, now), health[a.id]) for a in listed]


@dataclass
class Progress:
    contract: Contract
    counts: dict[RecipientStatus, int]
    per_minute: float  # sends (sent or failed) per minute over the last five minutes
    eta_s: float | None  # by the plan (services/estimates.py); None when it cannot finish or is done
    finish_at: datetime | None = None  # the same plan's end, to hold against the deadline
    waiting_reason: str | None = None  # why a running contract sends nothing now
    accounts: list[pools.AccountProgress] = field(default_factory=list)  # what each pool account sent

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        c = self.counts
        return c[RecipientStatus.SENT] + c[RecipientStatus.FAILED] + c[RecipientStatus.SKIPPED]

    @property
    def remaining(self) -> int:
        return self.total - self.done


async def progress(contract_id: str, now: datetime | None = None) -> Progress:
    now = now or datetime.now(UTC)
    contract = await get_contract(contract_id)
    counts = await status_counts(contract_id)
    since = now - RATE_WINDOW
    recent = await SendMinute.filter(contract_id=contract_id, minute__gte=since).values_list("sent", "failed")
    # Over the last five minutes, or since the start if that is sooner (a fresh start is not slow).
    began = max(since, contract.started_at or since)
    minutes = min(max((now - began).total_seconds() / 60, 0.25), RATE_WINDOW.total_seconds() / 60)
    per_minute = sum(s + f for s, f in recent) / minutes
    p = Progress(contract, counts, per_minute, None)
    finish = await estimates.contract_finish(contract, p.remaining, now) if p.remaining else None
    p.eta_s = (finish - now).total_seconds() if finish else None
    p.finish_at = finish
    p.waiting_reason = (await waiting.waiting_reasons([contract], now))[contract.id]
    p.accounts = await pools.progress(contract_id)
    return p


async def done_and_total(contract_ids: list[str]) -> dict[str, tuple[int, int]]:
    """(finished, total) recipients of each contract, in one query (the overview lists many)."""
    finished = {RecipientStatus.SENT, RecipientStatus.FAILED, RecipientStatus.SKIPPED}
    out = dict.fromkeys(contract_ids, (0, 0))
    rows = await StatusCount.filter(contract_id__in=contract_ids).values_list("contract_id", "status", "n")
    for contract_id, status, n in rows:
        done, total = out[contract_id]
        out[contract_id] = (done + (n if status in finished else 0), total + n)
    return out


async def sends_over_time(contract_id: str) -> list[tuple[datetime, int, int]]:
    """(minute, sent, failed) from the first send on, all the pool's accounts together; by the hour
    once that is over 3 hours long."""
    rows = (
        await SendMinute.filter(contract_id=contract_id)
        .order_by("minute")
        .values_list("minute", "sent", "failed")
    )
    by_hour = len(rows) >= 2 and rows[-1][0] - rows[0][0] > timedelta(hours=3)
    buckets: dict[datetime, list[int]] = {}
    for minute, sent, failed in rows:
        bucket = buckets.setdefault(minute.replace(minute=0) if by_hour else minute, [0, 0])
        bucket[0] += sent
        bucket[1] += failed
    return [(at, s, f) for at, (s, f) in buckets.items()]
