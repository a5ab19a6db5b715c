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

from models.db import is_unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
# Writes all the items given in one transaction; for each, what it gives back, or the error that is
# its own (a lease lost). Raising fails the whole batch: each item is then written alone, unless
# the database is away (then each gets that error, for its caller to wait and try again).
WriteAll = Callable[[list[T]], Awaitable[list[R | BaseException]]]
# Undoes what was written for an item whose caller was cancelled meanwhile (claimed rows put back).
Undo = Callable[[T, R], Awaitable[None]]


class GroupCommit(Generic[T, R]):
    """`await group(item)` returns once the item is written (what `write_all` gave back for it),
    with the others waiting then, in one call of `write_all` started `linger_s` after the first of
    them (or at once, `most` waiting).

    A caller cancelled while its item waits (a worker stopping): without `undo`, the item is
    written all the same and the caller unwinds only once it is, so what it sent is recorded before
    it lets go of its lease; with `undo`, an item not yet being written is dropped, and one being
    written is undone once it is."""

    def __init__(
        self, write_all: WriteAll[T, R], linger_s: float, most: int = 200, undo: Undo | None = None
    ) -> None:
        self.write_all, self.linger_s, self.most, self.undo = write_all, linger_s, most, undo
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writing: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests run one each): nothing of the old
            self._loop, self._waiting, self._timer, self._writing = loop, [], None, set()
        entry: tuple[T, asyncio.Future[R]] = (item, loop.create_future())
        self._waiting.append(entry)
        if len(self._waiting) >= self.most:
            self._write_now()
        elif self._timer is None:
            self._timer = loop.call_later(self.linger_s, self._write_now)
        try:
            return await asyncio.shield(entry[1])
        except asyncio.CancelledError:
            await self._cancelled(entry)
            raise

    async def _cancelled(self, entry: tuple[T, asyncio.Future[R]]) -> None:
        waiting = any(e is entry for e in self._waiting)
        if waiting and self.undo is not None:
            self._waiting = [e for e in self._waiting if e is not entry]
            return
        if waiting:
            self._write_now()
        try:
            result = await entry[1]
        except Exception:  # noqa: BLE001 - nothing of it was written
            return
        if self.undo is not None:
            await self.undo(entry[0], result)

    def _write_now(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        if batch:
            # In a copy of the context of the caller that happened to start it, where the ORM finds
            # its connections (in an empty one it made new ones for each batch: 0.92 of the rules' rate
            # fell to 0.77 at 10,000 accounts). Callers write outside any transaction of theirs.
            task = asyncio.get_running_loop().create_task(self._write(batch))
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)

    async def _write(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        results: list[R | BaseException] = []
        try:
            results = await self.write_all(items)
        except Exception as exc:  # noqa: BLE001 - handed to the writers
            if len(items) == 1 or is_unavailable(exc):
                results = [exc] * len(items)
            else:
                log.warning("writing %d together failed (%s); writing each alone", len(items), exc)
                results = [await self._alone(item) for item in items]
        finally:
            for i, (_, done) in enumerate(batch):
                if done.done():
                    continue
                result = results[i] if i < len(results) else RuntimeError("the group's write was cut short")
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
