"""The task queue: the broker (a Redis stream), and kicking tasks by name.

The web process and the services kick tasks through here without importing any worker code; the
worker (tasks/) registers its tasks on the same broker. The broker is a RedisStreamBroker that
survives what the stock one does not (taskiq-redis pitfalls, docs/ARCHITECTURE.md):

- Redis restarts or is flushed: the stock `listen()` raises and the worker's receiver dies; here it
  waits, re-creates the consumer group (a flush deletes it) reading from the stream's start, and
  goes on.
- The re-claim lock gets a timeout (`unacknowledged_lock_timeout`), so a worker killed while holding
  it does not block re-claiming for good (taskiq-redis#131).
- The stream is capped (`maxlen`).
Re-claim of a dead worker's tasks still needs new messages on the stream: the reconcile schedule
(tasks/reconcile.py) kicks one every second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage
from taskiq.kicker import AsyncKicker
from taskiq_redis import RedisStreamBroker

from settings import get_settings

log = logging.getLogger(__name__)

RECOVERABLE = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, ResponseError)


class ResilientStreamBroker(RedisStreamBroker):
    retry_delay_s: float = 0.5

    def __init__(self, url: str, **kwargs: Any) -> None:
        # A group (re-)created after a flush reads the stream from its start, not from "$": tasks
        # kicked between the flush and the re-creation would otherwise never be read.
        kwargs.setdefault("consumer_id", "0")
        super().__init__(url, **kwargs)

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        while True:
            try:
                async for message in super().listen():
                    yield message
            except RECOVERABLE as exc:
                if isinstance(exc, ResponseError) and "NOGROUP" not in str(exc):
                    raise
                log.warning("stream read failed (%s); retrying", exc)
                await asyncio.sleep(self.retry_delay_s)
                try:
                    await self._declare_consumer_group()
                except RECOVERABLE as again:
                    log.warning("consumer group not declared yet: %s", again)


def build_broker(**overrides: Any) -> ResilientStreamBroker:
    """The product's broker; `overrides` (queue, timings) let tests run one on a queue of their own."""
    s = get_settings()
    options: dict[str, Any] = dict(
        queue_name=s.queue_name,
        consumer_group_name=s.queue_name,
        maxlen=s.stream_maxlen,
        idle_timeout=s.stream_idle_timeout_s * 1000,
        unacknowledged_lock_timeout=5,
        xread_block=1000,
        # No socket timeout: with one, redis-py sends through asyncio.wait_for, which on CPython 3.11
        # swallows a cancel that lands as the send completes, so a worker's listener could not be
        # stopped (seen in tests/test_stream.py). A dead peer is still found by the keepalive and
        # the health check; callers that must not wait bound themselves with asyncio.timeout.
        socket_timeout=None,
        socket_connect_timeout=5,
        socket_keepalive=True,
        health_check_interval=5,
    )
    return ResilientStreamBroker(s.redis_dsn or "redis://127.0.0.1:6379/0", **{**options, **overrides})


broker = build_broker()

# A kicked account is not kicked again for this long (tasks/reconcile.py): until a worker takes it,
# its kick may be waiting in the stream, or have been lost with Redis.
KICK_AGAIN_S = 5


async def kick_account(account_id: str) -> None:
    """Ask a worker to drive the account now. Best effort, bounded in time: when Redis is away the
    database still says what is due, and the reconcile ticker kicks it once Redis is back."""
    try:
        async with asyncio.timeout(get_settings().kick_timeout_s):
            await AsyncKicker(task_name="drive_account", broker=broker, labels={}).kiq(account_id)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not kick account %s now (%s); reconcile will", account_id, exc)


async def waiting_s() -> float:
    """How long the oldest kick no worker has read yet has waited in the stream: 0 when none waits,
    or Redis cannot say (it is away). Entry ids are the times Redis added them (any version; a
    group's `lag` is Redis 7's only, and the embedded Redis is older)."""
    try:
        async with asyncio.timeout(get_settings().kick_timeout_s):
            async with Redis(connection_pool=broker.connection_pool) as redis:
                group = broker.consumer_group_name.encode()
                groups = await redis.xinfo_groups(broker.queue_name)
                last = next((g["last-delivered-id"] for g in groups if g["name"] == group), None)
                if last is None:
                    return 0.0
                ms, seq = (int(part) for part in last.split(b"-"))
                oldest = await redis.xrange(broker.queue_name, min=f"{ms}-{seq + 1}", count=1)
                if not oldest:
                    return 0.0
                now_s, now_us = await redis.time()
    except Exception as exc:  # noqa: BLE001 - best effort: kicking goes on as if none waited
        log.warning("could not read how long kicks wait in the stream (%s)", exc)
        return 0.0
    added_ms = int(oldest[0][0].split(b"-")[0])
    return max(0.0, now_s + now_us / 1e6 - added_ms / 1000)
