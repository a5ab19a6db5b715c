"""The session host: each worker keeps the sessions of some accounts connected (whatsapp, and any
session-driven transport), and drives them.

A linked device must be connected in one process at a time, and stay connected between sends to hear
receipts and replies. So a worker takes the account's lease (services/lease.py) for as long as it keeps
the session, renews it by heartbeat, and sends that account's messages itself with the same driver the
sandbox uses (tasks/drive.drive); `drive_account` tasks and reconcile leave whatsapp accounts alone.
A worker that dies loses its leases within one TTL, and another worker resumes the sessions from the
stored devices without a new QR code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.expressions import Q

from models import Account, AccountStatus
from models.enums import ACTIVE_CONTRACT, SESSION_WANTED
from services import lease, session_events
from settings import Settings
from tasks import outbox
from tasks.drive import drive
from wa import registry
from wa.transport import Session

log = logging.getLogger(__name__)

CONNECT_BACKOFF_S = 5
CONNECT_BACKOFF_MAX_S = 300


@dataclass
class Held:
    token: str
    session: Session
    keeper: asyncio.Task | None = None
    driver: asyncio.Task | None = None


class SessionHost:
    def __init__(self, s: Settings) -> None:
        self.settings = s
        self.held: dict[str, Held] = {}
        # Accounts whose connection failed: not tried again before the time given (back-off).
        self.failures: dict[str, int] = {}
        self.retry_at: dict[str, float] = {}

    @staticmethod
    def size_thread_pool(s: Settings) -> None:
        """neonize runs every Go call in the loop's default executor, and a connected client's
        `Neonize()` call occupies one thread for the session's life; the default pool (cores + 4
        threads) would run out after a handful of sessions and then block every other call."""
        workers = s.whatsapp_sessions_per_worker + 32
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(workers, "neonize"))

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("session host tick failed")
            await asyncio.sleep(self.settings.session_tick_s)

    async def tick(self) -> None:
        await self._adopt()
        await self._log_out_unwanted()
        for account_id, held in list(self.held.items()):
            if held.session.ended.is_set() or (held.keeper is not None and held.keeper.done()):
                await self._note_failure(account_id, held.session.failure)
                await self._let_go(account_id)
            elif held.session.connected:
                self.failures.pop(account_id, None)
        await self._pair_by_phone()
        await self._drive_due()

    async def close(self) -> None:
        for account_id in list(self.held):
            await self._let_go(account_id)

    async def _note_failure(self, account_id: str, failure: str | None) -> None:
        """Show why the session failed, and wait longer before each new try."""
        if failure is None:
            return
        await session_events.set_status(account_id, AccountStatus.DISCONNECTED, failure)
        n = self.failures[account_id] = self.failures.get(account_id, 0) + 1
        delay = min(CONNECT_BACKOFF_MAX_S, CONNECT_BACKOFF_S * 2 ** (n - 1))
        self.retry_at[account_id] = asyncio.get_running_loop().time() + delay
        log.warning("session of %s failed (%s); next try in %.0f s", account_id, failure, delay)

    def _waiting(self) -> list[str]:
        now = asyncio.get_running_loop().time()
        for account_id in [a for a, t in self.retry_at.items() if t <= now]:
            del self.retry_at[account_id]
        return list(self.retry_at)

    async def _adopt(self) -> None:
        room = self.settings.whatsapp_sessions_per_worker - len(self.held)
        if room <= 0:
            return
        now = datetime.now(UTC)
        candidates = await (
            Account.filter(transport__in=registry.names(task_driven=False), status__in=SESSION_WANTED)
            .filter(lease.unheld(now))
            .exclude(id__in=[*self.held, *self._waiting()])
            .order_by("id")
            .limit(room)
            .values_list("id", flat=True)
        )
        for account_id in candidates:
            token = await lease.acquire(account_id, now, self.settings.lease_ttl_s)
            if token is not None:
                await self._hold(account_id, token)

    async def _hold(self, account_id: str, token: str) -> None:
        account = await Account.get(id=account_id)
        await outbox.requeue_orphans(account)
        open_session = registry.transport(account.transport).open_session
        session = open_session(account, self.settings, session_events)
        held = Held(token, session)
        self.held[account_id] = held
        held.keeper = asyncio.create_task(self._keep(account_id, held))
        try:
            await session.start()
        except Exception as exc:  # noqa: BLE001 - shown on the account; tried again after a while
            await self._note_failure(account_id, f"could not connect: {exc}")
            await self._let_go(account_id)

    async def _keep(self, account_id: str, held: Held) -> None:
        """Hold the lease until the session ends or another worker took the lease."""
        async with lease.kept(account_id, held.token, self.settings.lease_ttl_s) as lost:
            ended = asyncio.create_task(held.session.ended.wait())
            taken = asyncio.create_task(lost.wait())
            try:
                await asyncio.wait({ended, taken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                ended.cancel()
                taken.cancel()

    async def _let_go(self, account_id: str) -> None:
        held = self.held.pop(account_id)
        for task in (held.driver, held.keeper):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await held.session.stop()
        await lease.release(account_id, held.token)

    async def _log_out_unwanted(self) -> None:
        """Sessions whose account was logged out from our side are logged out of WhatsApp too."""
        if not self.held:
            return
        unwanted = await Account.filter(id__in=list(self.held), status=AccountStatus.LOGGED_OUT).values_list(
            "id", flat=True
        )
        for account_id in unwanted:
            held = self.held[account_id]
            if not held.session.ended.is_set():
                await held.session.log_out()
            await self._let_go(account_id)

    async def _pair_by_phone(self) -> None:
        """Accounts whose user asked to pair by phone number get their code from WhatsApp."""
        if not self.held:
            return
        asks = await Account.filter(
            id__in=list(self.held),
            status=AccountStatus.PAIRING,
            pair_phone__isnull=False,
            pair_code__isnull=True,
        ).values_list("id", "pair_phone")
        for account_id, phone in asks:
            await self.held[account_id].session.pair_phone(phone)

    async def _drive_due(self) -> None:
        idle = [a for a, h in self.held.items() if h.driver is None or h.driver.done()]
        if not idle:
            return
        now = datetime.now(UTC)
        due = await (
            Account.filter(
                id__in=idle, status=AccountStatus.CONNECTED, pools__contract__status__in=ACTIVE_CONTRACT
            )
            .filter(Q(next_due_at__isnull=True) | Q(next_due_at__lte=now))
            .distinct()
            .values_list("id", flat=True)
        )
        for account_id in due:
            held = self.held[account_id]
            held.driver = asyncio.create_task(self._drive(account_id, held))

    async def _drive(self, account_id: str, held: Held) -> None:
        try:
            while True:
                account = await Account.get(id=account_id)
                if not await drive(account, held.token, held.session.sender, self.settings):
                    return
        except lease.LeaseLost:
            log.warning("lease on %s lost; its session moves to another worker", account_id)
            held.session.ended.set()
        except Exception:
            log.exception("driving %s failed; next tick tries again", account_id)
