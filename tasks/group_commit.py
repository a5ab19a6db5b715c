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
# Writes all the items given in one transaction; for each, None or the error that is its own (a
# lease lost). Raising fails the whole batch: each item is then written alone.
WriteAll = Callable[[list[T]], Awaitable[list[BaseException | None]]]


class GroupCommit(Generic[T]):
    """`await group(item)` returns once the item is written, with the others waiting then, in one
    call of `write_all` started `linger_s` after the first of them (or at once, `most` waiting)."""

    def __init__(self, write_all: WriteAll[T], linger_s: float, most: int = 200) -> None:
        self.write_all, self.linger_s, self.most = write_all, linger_s, most
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writing: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, item: T) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests run one each): nothing of the old
            self._loop, self._waiting, self._timer, self._writing = loop, [], None, set()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((item, done))
        if len(self._waiting) >= self.most:
            self._write_now()
        elif self._timer is None:
            self._timer = loop.call_later(self.linger_s, self._write_now)
        await done

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

    async def _write(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        items = [item for item, _ in batch]
        try:
            errors = await self.write_all(items)
        except Exception as exc:  # noqa: BLE001 - handed to the writers, one by one
            if len(items) == 1:
                errors = [exc]
            else:
                log.warning("writing %d together failed (%s); writing each alone", len(items), exc)
                errors = [await self._alone(item) for item in items]
        for (_, done), error in zip(batch, errors, strict=True):
            if done.done():  # its writer was cancelled (a worker stopping): written all the same
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

    async def _alone(self, item: T) -> BaseException | None:
        try:
            (error,) = await self.write_all([item])
        except Exception as exc:  # noqa: BLE001 - its own writer gets it
            return exc
        return error
