"""Sentences said to people (refusals, reasons, states), in English, each remembering its template and
values, so that the dashboard can say it in the user's language and time zone (ui/i18n.py: the
templates are its catalogue's message ids) while the API sends the English as it is.

    raise Conflict(say("contract is {status}; only PENDING contracts can be scheduled", status=c.status))
    say("a break until {resumes:time}", resumes=datetime(…))   # "a break until 18:00 UTC"

A moment (a datetime value) reads in English as UTC: `{at}` 2026-12-01 18:00 UTC, `{at:time}` 18:00
UTC; the dashboard writes it in the user's zone instead. The dashboard writes a whole number as the
user's language groups it (1 200); digits that are not a count (a phone number) take `{phone:s}`.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

LANGUAGES = ("en", "ru")  # the dashboard's; English is the catalogue's ids


@dataclass(frozen=True)
class Moment:
    at: datetime

    def __format__(self, spec: str) -> str:
        utc = self.at.astimezone(UTC)
        return f"{utc:%H:%M} UTC" if spec == "time" else f"{utc:%Y-%m-%d %H:%M} UTC"


class Text(str):
    """The English sentence, as a str; `template` and `values` make it again in another language."""

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, values: dict[str, Any]) -> Text:
        text = super().__new__(cls, template.format(**values) if values else template)
        text.template, text.values = template, values
        return text

    def __reduce__(self) -> tuple[type[Text], tuple[str, dict[str, Any]]]:
        return Text, (self.template, self.values)  # pickled as made (a process pool's results)


def N_(text: str) -> str:
    """Marks a constant text for the catalogue; where it is shown, it is translated (ui/i18n.py)."""
    return text


def say(template: str, **values: Any) -> Text:
    """`template` with its {placeholders} filled from `values` (str.format: values are never read
    as templates themselves); without values, the template as it is (braces and all)."""
    return Text(template, {k: Moment(v) if isinstance(v, datetime) else v for k, v in values.items()})


class Sentences:
    """Reads an English sentence that `say` made, once stored as plain text (an account's status
    reason, a contract's paused reason), back into its Text, so that the dashboard can say it in
    another language too; a sentence no template makes stays as it is.

    A template's placeholders match any text; a moment is read back from how it was written (`{at}`
    whole; `{at:time}` on today's date, which only the zone's offset uses), a whole number as one,
    and any other value is read as a sentence in turn (a reason inside a reason)."""

    def __init__(self, templates: Iterable[str]) -> None:
        self._patterns: list[tuple[str, list[str], re.Pattern[str], dict[str, tuple[str, str]]]] = []
        # The most words first (the most specific); templates of placeholders alone (`{a} {b}`) match
        # anything and say nothing, so they are left out.
        for template in sorted(templates, key=lambda t: -len(re.sub(r"\{[^}]*\}", "", t))):
            pattern, fields, words = "", {}, ""
            for literal, name, spec, _conversion in string.Formatter().parse(template):
                pattern += re.escape(literal)
                words += literal
                if name is None:
                    continue
                if name in fields:
                    pattern += f"(?P={fields[name][0]})"
                else:
                    fields[name] = (f"v{len(fields)}", spec or "")
                    pattern += f"(?P<v{len(fields) - 1}>.+?)"
            if fields and any(c.isalpha() for c in words):
                literals = [p for p in re.split(r"\{[^}]*\}", template) if p]
                self._patterns.append((template, literals, re.compile(pattern, re.DOTALL), fields))

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (one reader per catalogue, kept for good)
    def read(self, sentence: str) -> str:
        if len(sentence) > MAX_READ:  # the patterns' wildcards could take long on a long text
            return sentence
        for template, literals, pattern, fields in self._patterns:
            if not all(literal in sentence for literal in literals):  # cheap, and spares the pattern
                continue
            if not (found := pattern.fullmatch(sentence)):
                continue
            values = {name: self._value(found[group], spec) for name, (group, spec) in fields.items()}
            if None not in values.values():
                return Text(template, values)
        return sentence

    def _value(self, written: str, spec: str) -> Any:
        """The value as it was given to `say`; None if `written` cannot be one of its format."""
        if spec == "time":
            clock = _CLOCK.fullmatch(written)
            today = datetime.now(UTC).date()
            return clock and Moment(datetime.combine(today, time(*map(int, clock.groups())), UTC))
        if spec == ",":
            return int(written.replace(",", "")) if written.replace(",", "").isdigit() else None
        if spec == "s":  # a text kept as written, digits too (a phone number is not a count)
            return written
        if spec:
            return None
        if _MOMENT.fullmatch(written):
            return Moment(datetime.strptime(written, "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC))
        if written.isdigit():
            return int(written)
        inner = self.read(written)
        return inner if isinstance(inner, Text) else Text(written, {})  # translated if a constant text


MAX_READ = 300  # a reason is a line; a pattern's wildcards take longer the longer the text
_CLOCK = re.compile(r"(\d\d):(\d\d) UTC")
_MOMENT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")
