"""The dashboard in English or Russian: gettext catalogues kept with Babel (ui/locales; the English
text is the message id), the language each page is built in, and dates, times and numbers as that
language writes them, in the user's time zone.

The language is the user's saved choice, else the one chosen on the sign-in page (a cookie), else
the first the browser asks for that we have (Accept-Language), else English. It is fixed when a page
is built and kept with its client (`app.storage.client`), so the page's later events speak it too.

    scripts/translations   # after changing texts: extract them and update the catalogue
"""

from __future__ import annotations

import functools
import gettext
import io
import itertools
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from nicegui import app

from texts import LANGUAGES, N_, Moment, Sentences, Text

__all__ = [
    "N_",
    "_",
    "duration",
    "js_number",
    "local_moment",
    "ngettext",
    "number",
    "percent",
    "stored",
    "tr",
    "when",
]

NAMES = {"en": "English", "ru": "Русский"}
DEFAULT = LANGUAGES[0]
LOCALES = Path(__file__).parent / "locales"
LANGUAGE_COOKIE = "lang"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The language's catalogue (English is the ids themselves); fuzzy entries are left out."""
    if language == DEFAULT:
        return gettext.NullTranslations()
    with open(LOCALES / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalogue = read_po(po, locale=language)
    mo = io.BytesIO()
    write_mo(mo, catalogue)
    mo.seek(0)
    return gettext.GNUTranslations(mo)


@functools.cache
def sentences() -> Sentences:
    """Reads back the English of every template of the catalogue."""
    with open(LOCALES / "messages.pot", "rb") as pot:
        return Sentences(m.id for m in read_po(pot) if isinstance(m.id, str) and m.id)


def negotiate(saved: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language to speak: see the module's docstring."""
    for choice in (saved, cookie):
        if choice in LANGUAGES:
            return choice
    asked = []
    for part in (accept_language or "")[:500].split(","):
        tag, *parameters = (p.strip() for p in part.split(";"))
        q = next((p.removeprefix("q=").strip() for p in parameters if p.startswith("q=")), "1")
        try:
            weight = float(q)
        except ValueError:
            continue
        asked.append((-weight, len(asked), tag.split("-")[0].lower()))
    return next((lang for _, _, lang in sorted(asked) if lang in LANGUAGES), DEFAULT)


def language() -> str:
    """The language of the page being built or answered (English outside any page)."""
    try:
        return app.storage.client.get("language", DEFAULT)
    except RuntimeError:
        return DEFAULT


def zone() -> ZoneInfo:
    """The time zone the page shows times in (UTC outside any page)."""
    try:
        return app.storage.client.get("zone") or ZoneInfo("UTC")
    except RuntimeError:
        return ZoneInfo("UTC")


def _(text: str) -> str:
    """`text` in the page's language ("" stays "": gettext would give the catalogue's header)."""
    return translations(language()).gettext(text) if text else text


def ngettext(one: str, many: str, n: int) -> str:
    """The form for `n` (Russian has three), formatted with {n}."""
    return translations(language()).ngettext(one, many, n).format(n=number(n))


def stored(text: str) -> str:
    """A sentence of the services stored as its plain English (a status or paused reason), read back
    into its template (`sentences`) and said as `tr` says it."""
    return tr(sentences().read(text))


def tr(text: str) -> str:
    """A sentence of the services (services/texts.py) in the page's language; other text as _()."""
    if not isinstance(text, Text):
        return _(text)
    if not text.values:  # a constant text: its braces are its own
        return _(text.template)
    values: dict[str, Any] = {k: _shown(v) for k, v in text.values.items()}
    return _(text.template).format(**values)


def _shown(value: object) -> object:
    if isinstance(value, Text):
        return tr(value)
    if isinstance(value, Moment):
        return _Local(value.at)
    if isinstance(value, int) and not isinstance(value, bool):
        return _Count(value)
    return value


class _Count(int):
    """A whole number as the page's language writes it (1 200 in Russian), whatever the template's
    format says (`{n:,}` is for the API's English)."""

    def __format__(self, spec: str) -> str:
        return number(int(self))


class _Local(Moment):
    """A moment in the page's zone and language: `{at}` with its date, `{at:time}` without."""

    def __format__(self, spec: str) -> str:
        return when(self.at, with_date=spec != "time")


def number(n: float) -> str:
    return format_decimal(n, locale=language())


def percent(share: float) -> str:
    """A share as the page's language writes it (5% / 5 %)."""
    return format_percent(share, locale=language())


def js_number() -> str:
    """A JavaScript function writing a number as the page's language does, for what the browser
    draws itself (a chart's axis and tooltip: ECharts' own writes 2,100 whatever the language)."""
    return f"(n) => typeof n === 'number' ? n.toLocaleString({language()!r}) : n"


# A duration's units, largest first: their length in seconds and their short names.
UNITS = ((86400, N_("{n} d")), (3600, N_("{n} h")), (60, N_("{n} min")), (1, N_("{n} s")))


def duration(seconds: float) -> str:
    """A span in its two largest units, in the page's language: "1 d 17 h", "17 h 5 min", "3 min"
    (Russian "1 д 17 ч"), rounded to the smaller one (40.8 h is 1 d 17 h; 23.99 h is 1 d)."""
    whole = max(0, round(seconds))
    for (big, big_name), (small, small_name) in itertools.pairwise(UNITS):
        rounded = round(whole / small) * small
        if rounded >= big:
            parts = ((rounded // big, big_name), (rounded % big // small, small_name))
            return " ".join(_(name).format(n=number(n)) for n, name in parts if n)
    return _(UNITS[-1][1]).format(n=number(whole))


def local_moment(value: str) -> datetime:
    """A datetime-local input's value (no zone), as a moment in the page's zone."""
    return datetime.fromisoformat(value).replace(tzinfo=zone())


# Dates as each language writes them, on the 24-hour clock (English: ISO's order, which no reader
# takes for another day, as 11/12 would be).
DATE_TIME = {"en": "yyyy-MM-dd HH:mm", "ru": "dd.MM.yyyy, HH:mm"}


def when(moment: datetime | None, with_date: bool = True) -> str:
    """A moment in the page's zone, as its language writes it (2026-11-28 15:00 / 28.11.2026, 15:00)."""
    if moment is None:
        return ""
    pattern = DATE_TIME[language()] if with_date else "HH:mm"
    return format_datetime(moment, pattern, tzinfo=zone(), locale=language())
