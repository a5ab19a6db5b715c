"""The plan of a contract, or of a draft in the wizard, from the database (services/planner.py is the
pure part): its pool's accounts as they are now, and its recipients' time zones."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from models import Account, AccountStatus, Contract, ContractStatus, PoolMember, Recipient
from models.enums import ACTIVE_CONTRACT
from services import planner
from services.pacing import PacingState, daily_cap, mean_seconds_per_message
from services.timezones import SendWindow, ZoneRule
from settings import Settings, get_settings

# An account without limits sends as fast as the network answers; the plan assumes this many a second.
UNLIMITED_PER_S = 10
NEVER = datetime.max.replace(tzinfo=UTC)


def sender(account: Account, text: str, serves: int, now: datetime, s: Settings) -> planner.Sender:
    """The account as the plan sees it: its pacing, its caps from today on, its state now."""
    age_days = (now - account.created_at).total_seconds() / 86400
    state = PacingState.load(account.pacing_state)
    if account.status != AccountStatus.CONNECTED:
        available: datetime | None = NEVER  # it may come back, but the plan cannot say when
    elif account.paused_until is not None and account.paused_until > now:
        available = account.paused_until
    else:
        available = None
    share = 1 / max(1, serves)
    if not account.use_limits:
        return planner.Sender(1 / UNLIMITED_PER_S, lambda _day: 10**12, 0, available, share)
    return planner.Sender(
        seconds_per_message=mean_seconds_per_message(text, s, account.pace_factor),
        cap_on=lambda day: daily_cap(age_days + day, s, account.warmup_plan),
        sent_today=state.sent_on(now),
        available_from=available,
        share=share,
    )


# A plan is kept this long: the contract page asks every second, a list for every contract it shows.
KEPT_S = 30
_kept: dict[str, tuple[float, datetime | None]] = {}


async def contract_finish(contract: Contract, remaining: int, now: datetime | None = None) -> datetime | None:
    """When the contract's remaining recipients will be sent, if its accounts go on as they are now
    (from its scheduled start if it has one); None when paused, over, or no account can send."""
    if contract.status not in (*ACTIVE_CONTRACT, ContractStatus.PENDING):
        return None
    clock = time.monotonic()
    kept = _kept.get(contract.id)
    if kept is not None and clock - kept[0] < KEPT_S:
        return kept[1]
    if len(_kept) > 10_000:
        _kept.clear()
    finish = await _contract_finish(contract, remaining, now or datetime.now(UTC))
    _kept[contract.id] = (clock, finish)
    return finish


def forget(contract_id: str) -> None:
    """Plan the contract afresh when next asked (its start changed)."""
    _kept.pop(contract_id, None)


async def _contract_finish(contract: Contract, remaining: int, now: datetime) -> datetime | None:
    start = max(now, contract.start_at) if contract.start_at else now
    pool = await PoolMember.filter(contract_id=contract.id).values_list("account_id", flat=True)
    text = await Recipient.filter(contract_id=contract.id).first().values_list("message", flat=True)
    zones = contract.time_zones or {get_settings().default_time_zone: contract.total_count or 1}
    total = sum(zones.values()) or 1
    remaining_by_zone = {z: n * remaining / total for z, n in zones.items()}
    window = SendWindow.of(contract.send_window)
    extra = 0 if contract.status in ACTIVE_CONTRACT else 1  # a running one already counts where it shares
    return await _finish(pool, text or "", remaining_by_zone, window, start, extra)


async def recipient_zones(phone_numbers: list[str]) -> dict[str, float]:
    """How many of these numbers are in each time zone (off the event loop: a million take seconds)."""
    rule = ZoneRule.of()
    return dict(await asyncio.to_thread(Counter, (rule.zone_of(p) for p in phone_numbers)))


async def draft_finish(
    account_ids: list[str],
    zones: dict[str, float],
    text: str,
    window: SendWindow | None = None,
    start: datetime | None = None,
) -> datetime | None:
    """When a contract of recipients in these zones on these accounts would finish if started at
    `start` (default: now), sending inside `window` (default: the settings')."""
    now = datetime.now(UTC)
    begin = max(now, start) if start else now
    return await _finish(account_ids, text, zones, window or SendWindow.of(None), begin, 1)


async def connected_accounts() -> list[str]:
    return await Account.filter(status=AccountStatus.CONNECTED).values_list("id", flat=True)


async def _finish(
    account_ids: list[str],
    text: str,
    remaining: dict[str, float],
    window: SendWindow,
    now: datetime,
    extra_contracts: int,
) -> datetime | None:
    s = get_settings()
    accounts = await Account.filter(id__in=account_ids)
    serves = Counter(
        await PoolMember.filter(account_id__in=account_ids, contract__status__in=ACTIVE_CONTRACT).values_list(
            "account_id", flat=True
        )
    )
    senders = [sender(a, text, serves[a.id] + extra_contracts, now, s) for a in accounts]
    finish = planner.finish_at(senders, remaining, window, now)
    return finish if finish is None or finish - now < planner.HORIZON - timedelta(days=1) else None
