"""Group commit: the writes of many drivers, made together in one transaction per tick.

A paced driver records one message every few seconds; with thousands of them each record was a
transaction of its own, and a worker spent its CPU on the statements' round trips rather than on
sending. Waiting `linger_s` (a tenth of a second, nothing beside a pacing gap) to write with the
others costs each a few statements per tick instead of a few per message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
# Writes all the items given in one transaction; for each, what it gives back, or the error that is
# its own (a lease lost). Raising fails the whole batch: each item is then written alone.
WriteAll = Callable[[list[T]], Awaitable[list[R | BaseException]]]


class GroupCommit(Generic[T, R]):
    """`await group(item)` returns once the item is written (what `write_all` gave back for it),
    with the others waiting then, in one call of `write_all` started `linger_s` after the first of
    them (or at once, `most` waiting)."""

    def __init__(self, write_all: WriteAll[T, R], linger_s: float, most: int = 200) -> None:
        self.write_all, self.linger_s, self.most = write_all, linger_s, most
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writing: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests run one each): nothing of the old
            self._loop, self._waiting, self._timer, self._writing = loop, [], None, set()
        done: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, done))
        if len(self._waiting) >= self.most:
            self._write_now()
        elif self._timer is None:
            self._timer = loop.call_later(self.linger_s, self._write_now)
        return await done

    async def drain(self) -> None:
        """Write what waits now, and wait for every write under way (a worker stopping)."""
        if self._loop is asyncio.get_running_loop():
            self._write_now()
            await asyncio.gather(*self._writing, return_exceptions=True)

    def _write_now(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._write(batch))
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)

    async def _write(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        results: list[R | BaseException]
        try:
            results = await self.write_all(items)
        except Exception as exc:  # noqa: BLE001 - handed to the writers, one by one
            if len(items) == 1:
                results = [exc]
            else:
                log.warning("writing %d together failed (%s); writing each alone", len(items), exc)
                results = [await self._alone(item) for item in items]
        for (_, done), result in zip(batch, results, strict=True):
            if done.done():  # its writer was cancelled (a worker stopping): written all the same
                continue
            if isinstance(result, BaseException):
                done.set_exception(result)
            else:
                done.set_result(result)

    async def _alone(self, item: T) -> R | BaseException:
        try:
            (result,) = await self.write_all([item])
        except Exception as exc:  # noqa: BLE001 - its own writer gets it
            return exc
        return result
