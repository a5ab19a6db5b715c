"""The broker and the worker's process lifecycle: database up and down, the reconcile ticker, the
leases of the accounts it drives."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import socket
from datetime import UTC, datetime

from redis.asyncio import Redis
from taskiq import TaskiqEvents, TaskiqState
from taskiq.kicker import AsyncKicker

from models import Worker
from models.db import close_db, init_db
from services import lifeline
from services.lease import holder_id
from services.queue import RECOVERABLE, broker
from settings import get_settings
from tasks.drivers import DRIVERS

log = logging.getLogger(__name__)


async def tick_forever(interval_s: float) -> None:
    """Kick `reconcile` about once per interval across all workers (a Redis NX key elects the kicker).

    Every live worker runs this, so periodic reconciling needs no extra process and stops only when
    no worker is left; the kicks also keep the stream moving, which taskiq-redis needs before it
    re-claims a dead worker's unacknowledged tasks.
    """
    key = f"{broker.queue_name}:reconcile-tick"
    reconcile = AsyncKicker(task_name="reconcile", broker=broker, labels={})
    started = datetime.now(UTC)
    while True:
        await _report_alive(started)
        try:
            async with asyncio.timeout(interval_s * 5):
                async with Redis(connection_pool=broker.connection_pool) as redis:
                    elected = await redis.set(key, "1", nx=True, px=int(interval_s * 900))
                if elected:
                    await reconcile.kiq()
        except (*RECOVERABLE, TimeoutError) as exc:
            log.warning("reconcile tick skipped: %s", exc)
        await asyncio.sleep(interval_s)


async def _report_alive(started: datetime) -> None:
    """Say this worker is alive (the dashboard's worker health); a failure here stops nothing."""
    me = holder_id()
    try:
        await Worker.update_or_create(
            id=me,
            defaults={
                "hostname": socket.gethostname()[:200],
                "pid": os.getpid(),
                "started_at": started,
                "seen_at": datetime.now(UTC),
            },
        )
    except Exception as exc:  # noqa: BLE001
        log.warning("worker heartbeat not written: %s", exc)


@broker.on_event(TaskiqEvents.WORKER_STARTUP)
async def _worker_startup(state: TaskiqState) -> None:
    # A supervisor killed any way takes its worker child along (without this, kill -9 of one left
    # its worker running, holding database connections). taskiq forks the child from the
    # supervisor's main thread (the default start method on Linux up to Python 3.13); with another
    # start method the child's parent would be some other process, so it is left alone.
    if multiprocessing.get_start_method() == "fork":
        lifeline.die_with_parent(lifeline.original_parent())
    os.umask(0o077)  # the database and the WhatsApp session store: owner only
    # Sending is background work paced in seconds; the API and dashboard share the machine and
    # must stay responsive when workers run flat out (limits off), so workers yield the CPU first.
    os.nice(get_settings().worker_nice)
    await init_db()
    state.ticker = asyncio.create_task(tick_forever(get_settings().reconcile_interval_s))
    state.lease_keeper = asyncio.create_task(DRIVERS.keep_leases(get_settings().lease_ttl_s))
    from tasks.sessions import SessionHost  # imports neonize, which only workers need

    SessionHost.size_thread_pool(get_settings())
    state.sessions = SessionHost(get_settings())
    state.session_host = asyncio.create_task(state.sessions.run())


@broker.on_event(TaskiqEvents.WORKER_SHUTDOWN)
async def _worker_shutdown(state: TaskiqState) -> None:
    for task in (state.ticker, state.lease_keeper, state.session_host):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await DRIVERS.stop()
    await state.sessions.close()
    await close_db()
