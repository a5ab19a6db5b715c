"""A contract's pool of accounts: who is in it, what each has sent, and failover.

Any account of the pool may take a recipient nobody has taken yet; once taken (recipients.account_id)
it is that account's alone, retries included, until failover gives it back to the pool: when the
account is logged out or banned, or has been disconnected for longer than FAILOVER_GRACE_S.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q, Subquery

from models import Account, AccountStatus, Contract, PoolMember, Recipient, RecipientStatus
from models.enums import ACTIVE_CONTRACT
from services.errors import InvalidInput, NotFound, Problem
from services.queue import KICK_AGAIN_S, kick_account
from texts import say
from wa import registry

MAX_POOL = 100
# An account in one of these cannot send until it is paired again: its recipients move on at once.
LOST = (AccountStatus.LOGGED_OUT, AccountStatus.BANNED)


def chosen(account_ids: str | list[str]) -> list[str]:
    """The pool asked for: one account (the seed's accountId) or several, in order, each once."""
    ids = [account_ids] if isinstance(account_ids, str) else list(account_ids)
    repeated = [Problem(f"accountIds[{i}]", say("repeated"), i) for i, a in enumerate(ids) if a in ids[:i]]
    if repeated:
        raise InvalidInput(say("an account is given twice"), repeated)
    if not ids:
        raise InvalidInput(
            say("a contract needs at least one account"), [Problem("accountIds", say("is empty"))]
        )
    if len(ids) > MAX_POOL:
        why = say("at most {most} accounts per contract", most=MAX_POOL)
        raise InvalidInput(say("{n} accounts is too many", n=len(ids)), [Problem("accountIds", why)])
    return ids


async def check_exist(account_ids: list[str], one: bool) -> None:
    """NotFound naming each unknown account (`accountId` for a pool of one given as such)."""
    known = set(await Account.filter(id__in=account_ids).values_list("id", flat=True))
    missing = [
        Problem("accountId" if one else f"accountIds[{i}]", say("no such account"), None if one else i)
        for i, account_id in enumerate(account_ids)
        if account_id not in known
    ]
    if missing:
        names = ", ".join(repr(a) for a in account_ids if a not in known)
        raise NotFound(f"account {names} not found", missing)


async def store(contract_id: str, account_ids: list[str], conn: BaseDBAsyncClient) -> None:
    members = [
        PoolMember(contract_id=contract_id, account_id=a, position=i) for i, a in enumerate(account_ids)
    ]
    await PoolMember.bulk_create(members, using_db=conn)


async def members(contract_ids: list[str]) -> dict[str, list[str]]:
    """Each contract's accounts, in the order they were given."""
    rows = await (
        PoolMember.filter(contract_id__in=contract_ids)
        .order_by("contract_id", "position")
        .values_list("contract_id", "account_id")
    )
    pools: dict[str, list[str]] = defaultdict(list)
    for contract_id, account_id in rows:
        pools[contract_id].append(account_id)
    return pools


async def pool_of(contract_id: str) -> list[str]:
    return (await members([contract_id]))[contract_id]


def contracts_using(account_id: str) -> Subquery:
    """The ids of the contracts whose pool holds the account, to filter contracts by."""
    return Subquery(PoolMember.filter(account_id=account_id).values("contract_id"))


@dataclass(frozen=True)
class AccountProgress:
    account_id: str
    name: str
    sent: int
    failed: int
    skipped: int
    status: AccountStatus


async def progress(contract_id: str) -> list[AccountProgress]:
    """What each account of the pool has sent of the contract, and the account's status now."""
    rows = await (
        PoolMember.filter(contract_id=contract_id)
        .order_by("position")
        .values_list("account_id", "account__name", "sent", "failed", "skipped", "account__status")
    )
    return [AccountProgress(*row[:5], status=AccountStatus(row[5])) for row in rows]


async def release(account_id: str) -> int:
    """Give the account's unsent recipients back to their pools, and wake the pools' other accounts
    to send them (rows it is SENDING stay its own: they are settled as its own, sent or not, when it
    is back or its lease has run out). Returns how many moved."""
    mine = Recipient.filter(account_id=account_id, status=RecipientStatus.QUEUED)  # a partial index
    contract_ids = list(set(await mine.values_list("contract_id", flat=True)))
    if not contract_ids:
        return 0
    moved = await mine.update(account_id=None, next_attempt_at=None)
    others = await (
        PoolMember.filter(contract_id__in=contract_ids)
        .exclude(account_id=account_id)
        .distinct()
        .values_list("account_id", flat=True)
    )
    await wake(others)
    return moved


async def wake(account_ids: list[str]) -> None:
    """Have the accounts look for something to send now, however long they were told to wait. The
    worker holding a session drives its account when due; the others are kicked, and kicked again
    by reconcile only if no worker has taken them a while later (their kick was lost, or waits in
    the stream behind others): at once, that would be a second kick for every start."""
    kicked = registry.names(task_driven=True)
    await Account.filter(id__in=account_ids).exclude(transport__in=kicked).update(next_due_at=None)
    again = datetime.now(UTC) + timedelta(seconds=KICK_AGAIN_S)
    await Account.filter(id__in=account_ids, transport__in=kicked).update(next_due_at=again)
    for account_id in account_ids:
        await kick_account(account_id)


async def stranded(contract_ids: list[str]) -> list[str]:
    """Those of the running contracts whose every account is lost (logged out or banned)."""
    pools = await members(contract_ids)
    everyone = [a for accounts in pools.values() for a in accounts]
    lost = set(await Account.filter(id__in=everyone, status__in=LOST).values_list("id", flat=True))
    return [c for c, accounts in pools.items() if all(a in lost for a in accounts)]


async def running_contracts_of(account_id: str) -> list[str]:
    return await Contract.filter(id__in=contracts_using(account_id), status__in=ACTIVE_CONTRACT).values_list(
        "id", flat=True
    )


async def fail_over_disconnected(now: datetime, grace_s: float) -> int:
    """Give the unsent recipients of accounts of running contracts that have been disconnected for
    longer than the grace period to the rest of their pools. Returns how many moved."""
    since = now - timedelta(seconds=grace_s)
    gone = await (
        Account.filter(status=AccountStatus.DISCONNECTED)
        .filter(Q(status_since__lt=since) | Q(status_since__isnull=True))  # null: since before pools
        .filter(pools__contract__status__in=ACTIVE_CONTRACT)
        .distinct()
        .values_list("id", flat=True)
    )
    if not gone:
        return 0
    holding = await (
        Recipient.filter(account_id__in=gone, status=RecipientStatus.QUEUED)
        .distinct()
        .values_list("account_id", flat=True)
    )
    return sum([await release(account_id) for account_id in holding])
