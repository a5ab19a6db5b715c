"""The wizard's choice of whose national numbers a number without a country code is (the region,
services/phones.py), and the check step's account of the numbers read that way."""

from __future__ import annotations

import functools
from collections.abc import Callable

from babel import Locale
from nicegui import ui

from services import phones
from services.recipient_files.wizard_table import Report
from ui.i18n import _, language, ngettext


@functools.cache
def _names(lang: str) -> dict[str, str]:
    """Every region's name in `lang`, with its calling code: {"RU": "Россия (+7)", …}, by name."""
    territories = Locale.parse(lang).territories
    named = {r: f"{territories.get(r, r)} ({code})" for r, code in phones.calling_codes().items()}
    return dict(sorted(named.items(), key=lambda item: item[1]))


def region_name(region: str) -> str:
    return Locale.parse(language()).territories.get(region, region)


def region_select(region: str, on_change: Callable[[str], object]) -> ui.select:
    """A select of regions (and none), showing `region`; `on_change` is given the one chosen."""
    options = {"": _("None: every number has its country code")} | _names(language())
    select = ui.select(options, value=region, label=_("Numbers without a country code are from"))
    select.props("outlined options-dense").classes("w-full max-w-md").mark("phone-region")
    select.on_value_change(lambda e: on_change(e.value or ""))
    return select


def rewritten_note(report: Report, region: str) -> None:
    """How many numbers were read as the region's, and the first of them before and after."""
    if not report.rewritten or report.example is None:
        return
    written, number = report.example
    counted = ngettext(
        "{n} number without a country code.", "{n} numbers without a country code.", report.rewritten
    )
    added = _("The code {code} ({region}) was added, e.g. {example}").format(
        code=phones.calling_codes()[region],
        region=region_name(region),
        example=f"{written} → {phones.shown(number)}",
    )
    ui.label(f"{counted} {added}").classes("text-body2").mark("rewritten")
