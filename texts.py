"""Sentences said to people (refusals, reasons, states), in English, each remembering its template and
values, so that the dashboard can say it in the user's language and time zone (ui/i18n.py: the
templates are its catalogue's message ids) while the API sends the English as it is.

    raise Conflict(say("contract is {status}; only PENDING contracts can be scheduled", status=c.status))
    say("a break until {resumes:time}", resumes=datetime(…))   # "a break until 18:00 UTC"

A moment (a datetime value) reads in English as UTC: `{at}` 2026-12-01 18:00 UTC, `{at:time}` 18:00
UTC; the dashboard writes it in the user's zone instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
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
