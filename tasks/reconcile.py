"""reconcile: kick drive_account for each task-driven account with work due and no live lease
(session-driven ones, such as whatsapp, are driven by the worker holding their session: tasks/sessions.py).

Every worker's ticker (tasks/broker.py) has it run about once a second.

This is what restarts sending after any crash (a worker killed, Redis restarted or flushed): the
database says what is due, the lease says whether somebody is on it. Its own messages also keep the
stream moving, which is when taskiq-redis re-claims a dead worker's unacknowledged tasks.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q, Subquery

from models import Account, PoolMember, RecipientStatus, StatusCount
from models.enums import ACTIVE_CONTRACT
from models.sql import chunked
from services import account_health, contracts, lease, pools
from services.queue import KICK_AGAIN_S, broker, kick_account, waiting_s
from settings import get_settings
from tasks import outbox
from tasks.drive import task_driven

# An account kicked while kicks wait unread in the stream is kicked again only once as long again
# has passed (its kick is likely read by then), at most this much later: kicking every
# KICK_AGAIN_S regardless had the stream grow without end at 10,000 accounts (166,000 kicks behind,
# most of them repeats of kicks still waiting).
KICK_BACKOFF_MAX_S = 120
HEALTH_EVERY_S = 10  # the rules sum the window of every busy account: applied this often, not every tick
_health_due = [0.0]  # when this worker next applies them (monotonic seconds)


async def accounts_due(now: datetime) -> list[str]:
    return await (
        Account.filter(pools__contract__status__in=ACTIVE_CONTRACT, **task_driven())
        .filter(Q(next_due_at__isnull=True) | Q(next_due_at__lte=now))
        .filter(lease.unheld(now))
        .distinct()
        .values_list("id", flat=True)
    )


async def settle_lost_accounts(now: datetime) -> int:
    """Rows a lost (logged-out or banned) account left SENDING when its worker died: with its lease
    run out nobody will settle them as it would, so they are settled here by its rules (sent,
    resent or failed) and what is unsent goes to the rest of the pool. Returns the rows settled."""
    sending = StatusCount.filter(status=RecipientStatus.SENDING, n__gt=0).values("contract_id")
    stuck = await (
        PoolMember.filter(contract_id__in=Subquery(sending), account__status__in=pools.LOST)
        .filter(Q(account__lease_until__isnull=True) | Q(account__lease_until__lt=now))
        .values_list("account_id", "contract_id")
    )
    settled = 0
    for account_id, contract_id in stuck:
        settled += await outbox.requeue_orphans(await Account.get(id=account_id), [contract_id])
        await pools.release(account_id)
    return settled


@broker.task(task_name="reconcile")
async def reconcile() -> int:
    await contracts.start_scheduled(datetime.now(UTC))
    await contracts.pause_past_deadline(datetime.now(UTC))
    if time.monotonic() >= _health_due[0]:  # before failover: an account back in time keeps its rows
        _health_due[0] = time.monotonic() + HEALTH_EVERY_S
        await account_health.apply_rules(datetime.now(UTC))
    await pools.fail_over_disconnected(datetime.now(UTC), get_settings().failover_grace_s)
    await settle_lost_accounts(datetime.now(UTC))
    return await kick_due(datetime.now(UTC))


async def kick_due(now: datetime) -> int:
    """Kick the accounts due, each once per KICK_AGAIN_S, or less often while kicks wait in the
    stream: until a worker takes it (its kick may wait behind thousands, or be lost with Redis) it is
    not due again before then."""
    due = await accounts_due(now)
    if not due:
        return 0
    behind_s = min(await waiting_s(), KICK_BACKOFF_MAX_S)
    again = now + timedelta(seconds=KICK_AGAIN_S + behind_s)
    for chunk in chunked(due):
        await Account.filter(lease.unheld(now), id__in=chunk).update(next_due_at=again)
    for account_id in due:
        await kick_account(account_id)
    return len(due)
