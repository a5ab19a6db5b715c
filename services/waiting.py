"""Why a running contract is sending nothing now, in words: no silent waits.

A contract waits when it is outside its send window for every recipient (quiet hours), or when no
account of its pool can send: each account is either sending, or
waiting for a reason (not connected, lost, rested by a health rule, its daily cap reached, a break).
The contract's reason is the soonest-ending of its accounts' reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from models import Account, AccountStatus, Contract
from models.enums import ACTIVE_CONTRACT
from services import pools
from services.accounts import cap_today
from services.pacing import PacingState
from services.timezones import SendWindow
from texts import say

# A pause shorter than this is the rhythm of sending (typing, gaps), not a wait to explain.
EXPLAINED_FROM = timedelta(seconds=60)


@dataclass(frozen=True, order=True)
class Wait:
    rank: int  # the order reasons are preferred in: the first ends soonest, or needs no one
    reason: str


def account_wait(account: Account, now: datetime) -> Wait | None:
    """Why this account is not sending now, or None if it may send."""
    if account.status in pools.LOST:
        return Wait(5, say("banned") if account.status == AccountStatus.BANNED else say("logged out"))
    if account.status != AccountStatus.CONNECTED:
        return Wait(4, say("not connected"))
    if account.paused_until is not None and account.paused_until > now:
        return Wait(3, say("paused by health rule until {until:time}", until=account.paused_until))
    if not account.use_limits:
        return None
    state = PacingState.load(account.pacing_state)
    if state.sent_on(now) >= cap_today(account, now):
        midnight = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), UTC)
        return Wait(2, say("daily cap reached; sending resumes at {resumes:time}", resumes=midnight))
    resumes = datetime.fromtimestamp(state.not_before, UTC)
    if resumes - now > EXPLAINED_FROM:
        return Wait(1, say("a break until {resumes:time}", resumes=resumes))
    return None


def quiet_hours(contract: Contract, now: datetime) -> str | None:
    """Why the contract sends to nobody now, if it is night (or a day off) for every recipient."""
    if not contract.time_zones:
        return None
    window, zones = SendWindow.of(contract.send_window), list(contract.time_zones)
    if window.open_zones(zones, now):
        return None
    opens = window.next_open(zones, now)
    if opens is None:
        return say("quiet hours: outside {window} in the recipients' local time", window=window.describe())
    return say(
        "quiet hours: outside {window} in the recipients' local time; resumes at {opens:time}",
        window=window.describe(),
        opens=opens,
    )


def contract_wait(accounts: list[Account], now: datetime) -> str | None:
    """Why a running contract with this pool sends nothing now, or None while it is sending."""
    waits = [account_wait(a, now) for a in accounts]
    if not waits or any(w is None for w in waits):
        return None
    first = min(w for w in waits if w is not None)
    if first.rank >= 4:
        return say("no connected account")
    if len(accounts) == 1:
        return first.reason
    return say("every account is waiting; the first to resume: {reason}", reason=first.reason)


async def waiting_reasons(contracts: list[Contract], now: datetime | None = None) -> dict[str, str | None]:
    """Each contract's waiting reason (None for one sending, or not running)."""
    now = now or datetime.now(UTC)
    running = [c.id for c in contracts if c.status in ACTIVE_CONTRACT]
    members = await pools.members(running)
    wanted = {a for pool in members.values() for a in pool}
    accounts = {a.id: a for a in await Account.filter(id__in=wanted)}
    return {
        c.id: (
            quiet_hours(c, now) or contract_wait([accounts[a] for a in members[c.id] if a in accounts], now)
        )
        if c.id in members
        else None
        for c in contracts
    }
