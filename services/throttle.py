"""Growing delays after failed attempts (sign-in, setup code), per key: a client address, a username
from an address, a username (services/signin.py decides what each key holds back).

In memory, per web process: it slows guessing down from the first failures on, and forgets keys
it has not seen for a while, so a flood of new addresses cannot grow it without bound."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0
    seen: float = 0.0


class Throttle:
    def __init__(
        self,
        free: int = 3,
        base_s: float = 2,
        most_s: float = 900,
        forget_s: float = 3600,
        keys: int = 10_000,
    ) -> None:
        self.free = free  # failures allowed before the first delay
        self.base_s = base_s  # the first delay; each further failure doubles it, up to most_s
        self.most_s = most_s
        self.forget_s = forget_s
        self.keys = keys
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def wait_s(self, keys: Iterable[str], now: float | None = None) -> float:
        """How long the caller must wait before the next attempt: 0 when it may try now."""
        now = time.monotonic() if now is None else now
        return max((r.blocked_until - now for k in keys if (r := self._live(k, now))), default=0.0)

    def failures(self, key: str, now: float | None = None) -> int:
        """The failures counted for `key` (and not forgotten yet)."""
        record = self._live(key, time.monotonic() if now is None else now)
        return record.failures if record else 0

    def failed(self, keys: Iterable[str], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in keys:
            record = self._live(key, now) or _Record()
            record.failures += 1
            record.seen = now
            over = record.failures - self.free
            if over > 0:
                record.blocked_until = now + min(self.most_s, self.base_s * 2 ** (over - 1))
            self._records[key] = record
            self._records.move_to_end(key)
        excess = len(self._records) - self.keys
        if excess > 0:  # the least recently seen go first, but never one that is still blocked
            free = [k for k, r in islice(self._records.items(), 2 * excess) if r.blocked_until <= now]
            for key in free[:excess]:
                del self._records[key]

    def succeeded(self, key: str) -> None:
        """Take back one failure counted up front for an attempt that then succeeded, and the delay
        it set: the attempt was let in, so nothing held the key back before it, and a success leaves
        no wait behind it (the failures before it still count towards the next failure's delay)."""
        record = self._records.get(key)
        if record is not None:
            record.failures = max(0, record.failures - 1)
            record.blocked_until = 0.0

    def forget(self, key: str) -> None:
        self._records.pop(key, None)

    def _live(self, key: str, now: float) -> _Record | None:
        record = self._records.get(key)
        if record is not None and now - record.seen > self.forget_s and now >= record.blocked_until:
            del self._records[key]
            return None
        return record
