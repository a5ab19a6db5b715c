"""A discrete-event clock for tasks/clock.Clock: concurrent participants live a simulated day in seconds.

Each participant is an asyncio task run by `SimClock.run`. `sleep(d)` registers a wake at virtual
now + d and waits for it. Virtual time moves on, to the earliest pending wake, only when every
participant is asleep in the clock: one doing real I/O (a database query) is awake and holds the
time still, so the I/O takes no simulated time. Wakes due at the same instant are woken together
and run concurrently. Time is kept in whole microseconds, as the database stores it, so a driver
that sleeps until a moment it computed finds that moment reached, never a hair before it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1)


class SimClock:
    """Virtual time for the participants of `run`; see the module's docstring."""

    def __init__(self, start: datetime) -> None:
        self._start = _micros(start)
        self._now = self._start
        self._wakes: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # equal wakes in the order they were asked for
        self._awake = 0
        self.advances = 0  # how many times virtual time moved on

    def now(self) -> datetime:
        return EPOCH + timedelta(microseconds=self._now)

    def monotonic(self) -> float:
        return (self._now - self._start) / 1e6

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of virtual time; at least until every other participant waits too."""
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        at = self._now + max(0, math.ceil(seconds * 1e6))
        heapq.heappush(self._wakes, (at, next(self._order), wake))
        self._awake -= 1
        try:
            self._advance()
            await wake
        except asyncio.CancelledError:
            if not wake.done():  # cancelled while asleep: awake again, to unwind
                wake.cancel()
                self._awake += 1
            raise

    async def sleep_until(self, at: datetime) -> None:
        await self.sleep((at - self.now()).total_seconds())

    async def run(self, *participants: Coroutine[Any, Any, None]) -> None:
        """Run the participants concurrently until each returns; the first failure cancels the rest
        and is raised."""
        self._awake += len(participants)
        async with asyncio.TaskGroup() as group:
            for participant in participants:
                group.create_task(self._participant(participant))

    async def _participant(self, participant: Coroutine[Any, Any, None]) -> None:
        try:
            await participant
        finally:
            self._awake -= 1
            self._advance()

    def _advance(self) -> None:
        """With every participant asleep, move time to the earliest wake and wake all due then."""
        if self._awake > 0:
            return
        while self._wakes and self._wakes[0][2].done():
            heapq.heappop(self._wakes)  # its sleeper was cancelled
        if not self._wakes:
            return
        at = self._wakes[0][0]
        if at > self._now:
            self._now = at
            self.advances += 1
        while self._wakes and self._wakes[0][0] == at:
            _, _, wake = heapq.heappop(self._wakes)
            if not wake.done():
                self._awake += 1  # counted awake now, before it runs: time stays until it sleeps
                wake.set_result(None)
