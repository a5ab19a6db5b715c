"""The broker, the scheduler and the worker's process lifecycle (database up and down)."""

from __future__ import annotations

from taskiq import TaskiqEvents, TaskiqScheduler, TaskiqState
from taskiq.schedule_sources import LabelScheduleSource

from services.db import close_db, init_db
from settings import get_settings
from tasks.stream import ResilientStreamBroker


def _build_broker() -> ResilientStreamBroker:
    s = get_settings()
    return ResilientStreamBroker(
        url=s.redis_dsn or "redis://127.0.0.1:6379/0",
        queue_name=s.queue_name,
        consumer_group_name=s.queue_name,
        maxlen=s.stream_maxlen,
        idle_timeout=s.stream_idle_timeout_s * 1000,
        unacknowledged_lock_timeout=5,
        xread_block=1000,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=5,
    )


broker = _build_broker()
scheduler = TaskiqScheduler(broker, sources=[LabelScheduleSource(broker)])


@broker.on_event(TaskiqEvents.WORKER_STARTUP)
async def _worker_startup(state: TaskiqState) -> None:
    await init_db()


@broker.on_event(TaskiqEvents.WORKER_SHUTDOWN)
async def _worker_shutdown(state: TaskiqState) -> None:
    await close_db()
