"""drive_account, and the drivers a worker runs: a kick hands an account to a worker, which drives
it (tasks/drive.drive) in a coroutine of its own for as long as it has something due soon.

The task itself only adopts the account and returns. A paced account spends nearly all its time
waiting (gaps, typing, breaks); had the task waited, each waiting account would hold one of the
worker's task slots (taskiq runs `max_async_tasks`, 100, at once), and with thousands of accounts
most would wait for a slot rather than for their pacing. A coroutine that sleeps costs next to
nothing, and the leases of all the accounts a worker drives are renewed together, in a few
statements per third of the TTL rather than one per account.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from models import Account
from services import lease
from services.queue import broker, kick_account
from settings import get_settings
from tasks import outbox
from tasks.drive import drive
from wa import registry

log = logging.getLogger(__name__)


class Drivers:
    """The accounts this worker drives: their coroutines and lease tokens."""

    def __init__(self) -> None:
        self.running: dict[str, asyncio.Task[None]] = {}
        self.tokens: dict[str, str] = {}
        # Set when the account is kicked while driven here (a contract started, its settings
        # changed): its driver reads the account and its contracts again.
        self.look_again: dict[str, asyncio.Event] = {}

    async def adopt(self, account_id: str) -> None:
        """Drive the account here, unless this or another worker already does (then it looks
        again before it lets go, or it is the other's to drive)."""
        if account_id in self.running:
            self.look_again[account_id].set()
            return
        taken = await lease.take(
            account_id, datetime.now(UTC), get_settings().lease_ttl_s, registry.names(task_driven=True)
        )
        if taken is None:  # held elsewhere, not connected, or driven by the worker holding its
            return  # session (tasks/sessions.py)
        account, token = taken
        self.tokens[account_id] = token
        self.look_again[account_id] = asyncio.Event()
        self.running[account_id] = asyncio.create_task(self._drive(account, token))

    async def _drive(self, account: Account, token: str) -> None:
        s = get_settings()
        account_id = account.id
        again = False
        try:
            await outbox.requeue_orphans(account)
            look_again = self.look_again[account_id]
            while True:
                look_again.clear()
                sender = registry.transport(account.transport).build_sender(account)
                try:
                    again = await drive(account, token, sender, s, look_again=look_again)
                finally:
                    await sender.close()
                if again or not look_again.is_set():
                    break
                account = await Account.get(id=account_id)
        except lease.LeaseLost:
            log.warning("lease on %s lost; another worker continues", account_id)
        except Exception:
            log.exception("driving %s failed; reconcile kicks it again", account_id)
        finally:
            del self.running[account_id], self.tokens[account_id], self.look_again[account_id]
            with contextlib.suppress(Exception):  # the lease then runs out by itself
                await lease.release(account_id, token)
        if again:
            await kick_account(account_id)  # due at once: the next drive may fall to any worker

    async def keep_leases(self, ttl_s: float) -> None:
        """Renew every lease held here each third of the TTL; stop the drivers whose lease was
        taken (they ran out while this worker stalled, and another worker drives them now)."""
        while True:
            await asyncio.sleep(ttl_s / 3)
            try:
                lost = await lease.renew_many(list(self.tokens.values()), ttl_s)
            except Exception as exc:  # noqa: BLE001 - the database may be restarting; try again
                log.warning("could not renew %d leases: %s", len(self.tokens), exc)
                continue
            for account_id, token in list(self.tokens.items()):
                if token in lost:
                    log.warning("lease on %s was taken; stopping its driver here", account_id)
                    self.running[account_id].cancel()

    async def stop(self) -> None:
        """Stop every driver (as a crash would, between two database writes) and let go of its
        lease; a driver waiting to record what it sent with others' records it first
        (models/group_commit.py)."""
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


DRIVERS = Drivers()


@broker.task(task_name="drive_account")
async def drive_account(account_id: str) -> None:
    await DRIVERS.adopt(account_id)
