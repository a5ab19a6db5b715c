"""A RedisStreamBroker that survives what the stock one does not (DESIGN.md, "known pitfalls").

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

from redis.exceptions import BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker

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
