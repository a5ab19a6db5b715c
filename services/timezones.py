"""A recipient's time zone, from the number, by phonenumbers' time-zone data, and the send window
(quiet hours and days) in the recipient's local time.

A number the data places in one zone gets that zone. Some numbers get several: mobile numbers of a
country that spans zones (Russia's 79…: 16 zones, from UTC+2 to UTC+12). Such a number gets its
country's home zone (HOME_TIME_ZONES, where most of its people live: Europe/Moscow for +7), or, for a
country without one, the middle one of its zones by UTC offset. A number the data does not know gets
DEFAULT_TIME_ZONE.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from settings import Settings, get_settings

# Every proper prefix of a key of the data: a lookup stops as soon as no longer key can match.
_LONGER_KEYS = {key[:n] for key in TIMEZONE_DATA for n in range(1, len(key))}
_REFERENCE = datetime(2026, 1, 15, 12, tzinfo=UTC)  # offsets compared at one moment, for a stable order


def _zones(digits: str) -> tuple[str, ...]:
    found: tuple[str, ...] = ()
    for n in range(1, min(len(digits), TIMEZONE_LONGEST_PREFIX) + 1):
        prefix = digits[:n]
        found = TIMEZONE_DATA.get(prefix, found)
        if prefix not in _LONGER_KEYS:
            break
    return found


def zone_of(digits: str, s: Settings | None = None) -> str:
    """The time zone a number's local time is reckoned in (digits with the country code)."""
    s = s or get_settings()
    zones = tuple(z for z in _zones(digits) if z != "Etc/Unknown")
    if not zones:
        return s.default_time_zone
    if len(zones) == 1:
        return zones[0]
    return _several(zones, tuple(sorted(s.home_time_zones.items())))


@functools.lru_cache(maxsize=1024)
def _several(zones: tuple[str, ...], homes: tuple[tuple[str, str], ...]) -> str:
    for _country, home in homes:
        if home in zones:
            return home
    by_offset = sorted(zones, key=lambda z: (_REFERENCE.astimezone(_zone(z)).utcoffset(), z))
    return by_offset[len(by_offset) // 2]


@functools.lru_cache(maxsize=4096)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class SendWindow:
    """Local hours [start, end) on the given ISO weekdays (1 Monday … 7 Sunday); an end at or before
    the start runs past midnight."""

    start: time
    end: time
    days: frozenset[int]

    @classmethod
    def of(cls, data: dict | None, s: Settings | None = None) -> SendWindow:
        s = s or get_settings()
        data = data or {}
        return cls(
            time.fromisoformat(data.get("start", s.send_window_start)),
            time.fromisoformat(data.get("end", s.send_window_end)),
            frozenset(data.get("days", s.send_days)),
        )

    def describe(self) -> str:
        days = "every day" if len(self.days) == 7 else "days " + ",".join(map(str, sorted(self.days)))
        return f"{self.start:%H:%M}–{self.end:%H:%M}, {days}"

    def is_open(self, local: datetime) -> bool:
        t = local.time()
        if self.start < self.end:
            return local.isoweekday() in self.days and self.start <= t < self.end
        if t >= self.start:  # the evening part of a window past midnight: today's
            return local.isoweekday() in self.days
        return t < self.end and (local - timedelta(days=1)).isoweekday() in self.days

    def open_zones(self, zones: list[str], now: datetime) -> list[str]:
        """Those of `zones` whose local time is inside the window now."""
        return [z for z in zones if self.is_open(now.astimezone(_zone(z)))]

    def next_open(self, zones: list[str], now: datetime) -> datetime | None:
        """The first moment after `now` when the window opens in any of `zones` (None: never)."""
        found = [t for z in zones if (t := self._opens_in(z, now)) is not None]
        return min(found) if found else None

    def _opens_in(self, zone: str, now: datetime) -> datetime | None:
        tz = _zone(zone)
        local = now.astimezone(tz)
        for ahead in range(8):
            day = local.date() + timedelta(days=ahead)
            opening = datetime.combine(day, self.start, tz)
            if opening > local and day.isoweekday() in self.days:
                return opening.astimezone(UTC)
        return None
