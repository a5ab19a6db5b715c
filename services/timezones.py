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
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX
from pydantic import BaseModel, ConfigDict, Field

from services.errors import InvalidInput, Problem
from settings import Settings, get_settings
from texts import Text, say

# Every proper prefix of a key of the data: a lookup stops as soon as no longer key can match.
_LONGER_KEYS = {key[:n] for key in TIMEZONE_DATA for n in range(1, len(key))}
_REFERENCE = datetime(2026, 1, 15, 12, tzinfo=UTC)  # offsets compared at one moment, for a stable order
DECIDING = 6  # most numbers' zone is decided by their first six digits or fewer


def _matched_prefix(digits: str) -> tuple[str, int]:
    """The longest prefix of the number that the data has a key for ('' for none), and how many
    digits decided it (no key is longer than that and starts with them)."""
    found = ""
    for n in range(1, min(len(digits), TIMEZONE_LONGEST_PREFIX) + 1):
        prefix = digits[:n]
        if prefix in TIMEZONE_DATA:
            found = prefix
        if prefix not in _LONGER_KEYS:
            return found, n
    return found, TIMEZONE_LONGEST_PREFIX


@dataclass(frozen=True)
class ZoneRule:
    """The settings' rule for numbers in several zones or none, made once for many numbers."""

    default: str
    homes: tuple[tuple[str, str], ...]
    # Zones by a number's first digits, where those decide it: most numbers are looked up once here.
    known: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def of(cls, s: Settings | None = None) -> ZoneRule:
        s = s or get_settings()
        return cls(s.default_time_zone, tuple(sorted(s.home_time_zones.items())))

    def zone_of(self, digits: str) -> str:
        """The time zone a number's local time is reckoned in (digits with the country code)."""
        zone = self.known.get(digits[:DECIDING])
        if zone is None:
            prefix, decided_by = _matched_prefix(digits)
            zone = _zone_for_prefix(prefix, self.default, self.homes)
            if decided_by <= DECIDING:
                self.known[digits[:DECIDING]] = zone
        return zone


def zone_of(digits: str) -> str:
    return ZoneRule.of().zone_of(digits)


@functools.lru_cache(maxsize=65536)
def _zone_for_prefix(prefix: str, default: str, homes: tuple[tuple[str, str], ...]) -> str:
    zones = tuple(z for z in TIMEZONE_DATA.get(prefix, ()) if z != "Etc/Unknown" and _known(z))
    if not zones:
        return default
    if len(zones) == 1:
        return zones[0]
    return _several(zones, homes)


def _several(zones: tuple[str, ...], homes: tuple[tuple[str, str], ...]) -> str:
    for _country, home in homes:
        if home in zones:
            return home
    by_offset = sorted(zones, key=lambda z: (_REFERENCE.astimezone(_zone(z)).utcoffset(), z))
    return by_offset[len(by_offset) // 2]


def _known(name: str) -> bool:
    """Whether this system's time-zone database has the zone (phonenumbers names some legacy ones;
    a directory of it, "Europe", is none, though ZoneInfo would try to open it)."""
    return name in _available()


@functools.cache
def _available() -> frozenset[str]:
    return frozenset(available_timezones())


@functools.lru_cache(maxsize=4096)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@functools.cache
def names() -> list[str]:
    """The zones a user may choose to see times in: Area/City ones (not Etc/GMT+3 and the like)."""
    areas = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian")
    areas += ("Pacific",)
    return [*sorted(name for name in _available() if name.startswith(areas) and "/" in name), "UTC"]


def shown_in(name: str | None, field: str = "tz") -> ZoneInfo:
    """The zone a user asked to see times in (an IANA name, Europe/Moscow); UTC if none."""
    if not name:
        return _zone("UTC")
    if not _known(name):
        raise InvalidInput(
            say("{name} is not a time zone", name=repr(name)),
            [Problem(field, say("an IANA time zone name, such as Europe/Moscow"))],
        )
    return _zone(name)


HOUR_MINUTE = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
HourMinute = Annotated[str, Field(pattern=HOUR_MINUTE, examples=["09:00"])]


class SendWindowIn(BaseModel):
    """Quiet hours: the contract sends only from `start` to `end` of each recipient's local time (the
    zone from the number), on `days` (ISO weekdays, 1 Monday … 7 Sunday). An end at or before the
    start runs past midnight; 00:00 to 00:00 is the whole day."""

    model_config = ConfigDict(extra="forbid")

    start: HourMinute
    end: HourMinute
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field([1, 2, 3, 4, 5, 6, 7], min_length=1, max_length=7)


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

    def describe(self) -> Text:
        if self.start == self.end:  # the whole day
            if len(self.days) == 7:
                return say("around the clock, every day")
            return say("around the clock, days {days}", days=",".join(map(str, sorted(self.days))))
        hours = f"{self.start:%H:%M}–{self.end:%H:%M}"
        if len(self.days) == 7:
            return say("{hours}, every day", hours=hours)
        return say("{hours}, days {days}", hours=hours, days=",".join(map(str, sorted(self.days))))

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
