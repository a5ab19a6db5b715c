"""reconcile: kick drive_account for each task-driven account with work due and no live lease
(session-driven ones, such as whatsapp, are driven by the worker holding their session: tasks/sessions.py).

Every worker's ticker (tasks/broker.py) has it run about once a second.

This is what restarts sending after any crash (a worker killed, Redis restarted or flushed): the
database says what is due, the lease says whether somebody is on it. Its own messages also keep the
stream moving, which is when taskiq-redis re-claims a dead worker's unacknowledged tasks.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.expressions import Q

from models import Account
from models.enums import ACTIVE_CONTRACT
from services import contracts, pools
from services.queue import broker, kick_account
from settings import get_settings
from tasks.drive import task_driven


async def accounts_due(now: datetime) -> list[str]:
    return await (
        Account.filter(pools__contract__status__in=ACTIVE_CONTRACT, **task_driven())
        .filter(Q(next_due_at__isnull=True) | Q(next_due_at__lte=now))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .distinct()
        .values_list("id", flat=True)
    )


@broker.task(task_name="reconcile")
async def reconcile() -> int:
    await contracts.start_scheduled(datetime.now(UTC))
    await pools.fail_over_disconnected(datetime.now(UTC), get_settings().failover_grace_s)
    due = await accounts_due(datetime.now(UTC))
    for account_id in due:
        await kick_account(account_id)
    return len(due)
