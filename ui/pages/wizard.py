"""The new-contract wizard: accounts, recipients (CSV or XLSX upload, pasted, or a saved audience:
ui/pages/wizard_recipients.py), message template with a live preview, a check of every row before
anything is created, then start now, later, or not yet, with its send window and an optional deadline
(warned of when the plan ends after it). The draft is remembered as it grows: a reload keeps it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, BinaryIO, Literal
from urllib.parse import quote

from nicegui import ui

from models import Account, AccountStatus
from services import accounts, audiences, contracts, estimates, exports, wizard_drafts
from services.errors import NotFound
from services.recipient_files import wizard_table
from services.recipient_files.wizard_table import Report, Table
from services.timezones import SendWindow
from ui import handoff
from ui.frame import attempt, confirm, page_user, show_failure, status_name, text_table
from ui.i18n import N_, _, local_moment, ngettext, number, tr, zone
from ui.i18n import when as when_
from ui.pages.wizard_draft import Draft
from ui.pages.wizard_recipients import PREVIEW_ROWS, Take, recipients_step
from ui.pages.wizard_region import region_select, rewritten_note

LISTED_PROBLEMS = 50
DAYS = {1: N_("Mon"), 2: N_("Tue"), 3: N_("Wed"), 4: N_("Thu"), 5: N_("Fri"), 6: N_("Sat"), 7: N_("Sun")}
Start = Literal["now"] | datetime | None


STEPS = ("accounts", "recipients", "message", "check", "start")


@dataclass
class Restorable:
    """What a draft remembered is put back into."""

    stepper: ui.stepper
    accounts: ui.select
    take: Take
    name: ui.input
    when: When
    check_report: ui.refreshable
    region: ui.select


async def wizard_page(audience: str = "") -> None:
    """`audience`: a saved audience's id to start a new draft with (its page's New contract)."""
    draft = Draft(owner=page_user())
    choices = await accounts.list_accounts()
    message_fields = ui.refreshable(_message_fields)
    check_report = ui.refreshable(_check_report)
    notice = ui.row().classes("w-full items-center gap-2 no-wrap")
    with ui.stepper().props("vertical animated").classes("w-full") as stepper:
        with ui.step("accounts", title=_("Accounts")):
            account_select = _account_step(draft, stepper, choices)
        with ui.step("recipients", title=_("Recipients")):
            take = await recipients_step(draft, on_table=message_fields.refresh)
            _recipients_navigation(draft, stepper)
        with ui.step("message", title=_("Message")):
            _message_step(draft, stepper, message_fields, on_done=check_report.refresh)
        with ui.step("check", title=_("Check")):
            region = await _check_step(draft, stepper, check_report)
        with ui.step("start", title=_("Start")):
            name, when = _start_step(draft, stepper)
    parts = Restorable(stepper, account_select, take, name, when, check_report, region)
    if await _restore(draft, parts, audience):
        with notice:
            ui.icon("restore")
            ui.label(_("Your draft is as you left it.")).classes("text-body2")
            ui.button(_("Start over"), on_click=lambda: _start_over(draft)).props("flat dense").mark(
                "start-over"
            )
    stepper.on_value_change(lambda e: draft.remember_soon(step=e.value))


async def _restore(draft: Draft, parts: Restorable, audience: str) -> bool:
    """Put the remembered draft back, and offer to replace it with `audience` (a link's); with no
    draft, start one with `audience`, if it is one. Whether a draft was put back."""
    saved = await wizard_drafts.recall(draft.owner)
    if audience and not saved:
        if (stored := await _stored(audience, draft.owner)) is not None:
            await parts.take(*stored)
        return False
    if audience:  # a link (a plain GET) replaces no draft: the user is asked once the page is up
        ui.timer(0, lambda: _replace_with(draft, audience), once=True)
    known = [a for a in saved.get("accounts", []) if a in parts.accounts.options]
    if known:
        parts.accounts.set_value(known)
    draft.phone_column, draft.template = saved.get("phoneColumn"), saved.get("template") or ""
    if saved.get("region") in parts.region.options:
        draft.region = saved["region"]
        parts.region.set_value(draft.region)
    stored = await _stored(saved["audience"], draft.owner) if saved.get("audience") else None
    if stored is not None:
        await parts.take(*stored)
    parts.name.set_value(saved.get("name") or "")
    parts.when.restore(saved.get("when") or [])
    step = saved.get("step") if saved.get("step") in STEPS else STEPS[0]
    if stored is None:
        step = min(step, "recipients", key=STEPS.index)
    elif not draft.account_ids:
        step = STEPS[0]
    parts.stepper.set_value(step)
    if step in ("check", "start"):
        parts.check_report.refresh()
    return bool(saved)


async def _stored(audience_id: str, owner: str) -> tuple[Table, str, str | None] | None:
    """The recipients stored as `audience_id`, with its id and name; None (said) if they are gone."""
    try:
        table, name = await audiences.table_of(audience_id, owner)
    except NotFound:
        ui.notify(_("The recipients of the draft are gone: upload them again"), type="warning")
        return None
    return table, audience_id, name


async def _replace_with(draft: Draft, audience: str) -> None:
    """Start again with `audience` instead of the draft, if the user says so."""
    if (stored := await _stored(audience, draft.owner)) is None:
        return
    asked = _("Replace the draft in the wizard?")
    text = _("The new-contract wizard holds a draft; it starts again with {name}.").format(name=stored[2])
    if await confirm(asked, text, _("Replace"), _("Keep the draft"), "confirm-replace-draft"):
        await draft.forget()
        ui.navigate.to(f"/contracts/new?audience={quote(audience)}")


async def _start_over(draft: Draft) -> None:
    text = _("Its choices are gone, and its recipients too unless they were saved as an audience.")
    if await confirm(_("Start over?"), text, _("Start over"), _("Keep the draft"), "confirm-start-over"):
        await draft.forget()
        ui.navigate.to("/contracts/new")


def _back(stepper: ui.stepper) -> None:
    ui.button(_("Back"), on_click=stepper.previous).props("flat")


def _account_step(draft: Draft, stepper: ui.stepper, choices: list[Account]) -> ui.select:
    ui.label(_("Which accounts send the messages? With several, each sends its share at its own pace."))
    options = {a.id: f"{a.name or a.id} · {status_name(a.status)}" for a in choices}
    account = ui.select(options, label=_("Accounts"), multiple=True).props("outlined use-chips")
    account.classes("w-full max-w-xl").mark("accounts")
    warning = ui.label().classes("text-body2 text-warning")
    if not options:
        ui.link(_("Add an account first"), "/accounts")

    def changed() -> None:
        draft.account_ids = list(account.value or [])
        draft.report = None  # opt-outs are checked against the chosen accounts
        idle = [a for a in choices if a.id in draft.account_ids and a.status != AccountStatus.CONNECTED]
        names = ", ".join(f"{a.name or a.id} ({status_name(a.status)})" for a in idle)
        idle_now = _("Not connected, so not sending until they are: {names}")
        warning.set_text(idle_now.format(names=names) if idle else "")
        draft.remember_soon(accounts=draft.account_ids)

    def chosen() -> None:
        if not draft.account_ids:
            ui.notify(_("Choose at least one account"), type="warning")
            return
        stepper.next()

    account.on_value_change(changed)
    with ui.stepper_navigation():
        ui.button(_("Next"), on_click=chosen)
    return account


def _recipients_navigation(draft: Draft, stepper: ui.stepper) -> None:
    def chosen() -> None:
        if draft.table is None:
            ui.notify(_("Upload a file or paste the recipients first"), type="warning")
            return
        stepper.next()

    with ui.stepper_navigation():
        _back(stepper)
        ui.button(_("Next"), on_click=chosen)


def _message_fields(draft: Draft) -> None:
    """The phone column and the template, with a live preview (empty until there are recipients)."""
    table = draft.table
    if table is None:
        return
    with ui.row().classes("w-full gap-4 items-start"):
        phone = ui.select(table.columns, value=draft.phone_column, label=_("Phone number column"))
        phone.props("outlined").classes("w-64")
        template = ui.textarea(_("Message"), value=draft.template).props("outlined autogrow")
        template.classes("flex-grow")
    with ui.row().classes("gap-1 items-center"):
        ui.label(_("Insert:")).classes("text-caption")
        for column in table.columns:
            ui.chip(
                f"{{{column}}}",
                on_click=lambda c=column: template.set_value((template.value or "") + "{" + c + "}"),
            ).props("dense outline clickable")
    fault = ui.label().classes("text-negative text-caption")
    preview = ui.column().classes("w-full")

    def show_preview() -> None:
        draft.set_message(phone.value, template.value or "")
        _preview(table, draft, fault, preview)

    def changed() -> None:
        show_preview()
        draft.remember_message()

    phone.on_value_change(changed)
    template.on_value_change(changed)
    show_preview()


def _preview(table: Table, draft: Draft, fault: ui.label, preview: ui.column) -> None:
    problem = wizard_table.template_fault(table, draft.template)
    fault.set_text(tr(problem or ""))
    preview.clear()
    if problem or draft.phone_column is None:
        return
    numbers = wizard_table.phone_cells(table, draft.phone_column, PREVIEW_ROWS)
    texts = list(wizard_table.messages(table, draft.template, PREVIEW_ROWS))
    with preview:
        ui.label(_("Preview of the first recipients")).classes("text-caption")
        text_table([_("phone"), _("message")], [[n, m] for n, m in zip(numbers, texts, strict=True)])


def _message_step(
    draft: Draft,
    stepper: ui.stepper,
    fields: ui.refreshable[[Draft], None],
    on_done: Callable[[], object],
) -> None:
    fields(draft)

    def chosen() -> None:
        if draft.table is None:
            return
        problem = wizard_table.template_fault(draft.table, draft.template)
        if problem:
            ui.notify(_("Message: {problem}").format(problem=tr(problem)), type="warning")
            return
        stepper.next()
        on_done()

    with ui.stepper_navigation():
        _back(stepper)
        ui.button(_("Check the recipients"), on_click=chosen)


async def _check_step(
    draft: Draft, stepper: ui.stepper, report: ui.refreshable[[Draft], Awaitable[None]]
) -> ui.select:
    """The check's report, after the region numbers without a country code are read as (the
    installation's default, or the draft's); another region checks every row again."""

    def chosen(region: str) -> None:
        if region != draft.region:
            draft.region, draft.report = region, None
            draft.remember_soon(region=region)
            report.refresh()

    region = region_select(draft.region, chosen)
    await report(draft)
    with ui.stepper_navigation():
        _back(stepper)
        ui.button(_("Next"), on_click=stepper.next)
    return region


async def _check_report(draft: Draft) -> None:
    """Every row checked (again only once the recipients or the message changed), and what is wrong
    with which."""
    table, phone_column, account_ids = draft.table, draft.phone_column, draft.account_ids
    if table is None or not account_ids or phone_column is None:
        return
    spinner = ui.spinner(size="lg")
    if draft.report is None:
        draft.report = await attempt(
            lambda: wizard_table.check(table, phone_column, draft.template, account_ids, draft.region)
        )
    spinner.delete()
    if draft.report is not None:
        _report(draft.report, table.count, draft)
        rewritten_note(draft.report, draft.region)
        await _plan(draft, draft.report)


async def _plan(draft: Draft, report: Report) -> None:
    """How long the rows that pass would take if started now: on the chosen accounts, and on every
    connected account when there are more of those."""
    dropped = report.dropped_rows()
    numbers = [n for row, n in enumerate(report.phone_numbers, start=1) if row not in dropped]
    zones = draft.zones = await estimates.recipient_zones(numbers)
    lines = [await _about(draft.account_ids, zones, draft.template)]
    everyone = await estimates.connected_accounts()
    if len(everyone) > len(draft.account_ids):
        lines.append(await _about(everyone, zones, draft.template))
    ui.label(_("If started now: {plans}").format(plans="; ".join(lines))).classes("text-body1").mark("plan")


async def _about(account_ids: list[str], zones: dict[str, float], text: str) -> str:
    finish = await estimates.draft_finish(account_ids, zones, text)
    on = ngettext("on {n} account", "on {n} accounts", len(account_ids))
    if finish is None:
        return _("not possible {on} now: none of them can send").format(on=on)
    return _("{duration} {on}").format(duration=_duration_in_words(finish - datetime.now(UTC)), on=on)


def _duration_in_words(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    if hours < 1:
        return ngettext("about {n} minute", "about {n} minutes", max(1, round(hours * 60)))
    if hours < 48:
        return ngettext("about {n} hour", "about {n} hours", round(hours))
    return ngettext("about {n} day", "about {n} days", round(hours / 24))


@dataclass
class When:
    """The start step's choices: when to start, the send window, the deadline."""

    start: ui.radio
    at: ui.input
    window_start: ui.input
    window_end: ui.input
    days: ui.select
    deadline: ui.input

    def window(self) -> dict[str, Any]:
        days = sorted(self.days.value or [])
        return {"start": self.window_start.value or "", "end": self.window_end.value or "", "days": days}

    def inputs(self) -> list[ui.radio | ui.input | ui.select]:
        return [self.start, self.at, self.window_start, self.window_end, self.days, self.deadline]

    def chosen(self) -> list[str]:
        """The choices as the draft remembers them (the days as "1,2,3")."""
        days = ",".join(map(str, sorted(self.days.value or [])))
        texts = [e.value or "" for e in self._typed()]
        return [self.start.value, *texts, days]

    def restore(self, chosen: list[str]) -> None:
        if len(chosen) != len(self.inputs()):
            return
        start, *texts, days = chosen
        if start in self.start.options:
            self.start.set_value(start)
        for element, value in zip(self._typed(), texts, strict=True):
            element.set_value(value)
        self.days.set_value([int(d) for d in days.split(",") if d.isdigit() and int(d) in DAYS])

    def _typed(self) -> tuple[ui.input, ...]:
        return self.at, self.window_start, self.window_end, self.deadline


def _when_inputs() -> When:
    start = ui.radio(
        {"now": _("Start now"), "later": _("Start at a time"), "no": _("Create without starting")},
        value="now",
    ).props("inline")
    at = ui.input(_("Start at ({zone})").format(zone=zone().key))
    at.props("outlined type=datetime-local").classes("w-full max-w-md")
    at.bind_visibility_from(start, "value", value="later")
    window = SendWindow.of(None)  # the settings'
    with ui.row().classes("items-center gap-4"):
        ui.label(_("Sends in each recipient's local time"))
        window_start = ui.input(_("from"), value=f"{window.start:%H:%M}").props("outlined type=time")
        window_end = ui.input(_("until"), value=f"{window.end:%H:%M}").props("outlined type=time")
        days = ui.select(
            {d: _(name) for d, name in DAYS.items()}, value=sorted(window.days), label=_("on"), multiple=True
        )
        days.props("outlined use-chips").classes("w-full max-w-md")
    deadline = ui.input(_("Deadline, if any ({zone})").format(zone=zone().key))
    deadline.props("outlined type=datetime-local")
    deadline.classes("w-full max-w-md")
    window_start.mark("window-start")
    window_end.mark("window-end")
    days.mark("send-days")
    deadline.mark("deadline")
    return When(start, at, window_start, window_end, days, deadline)


def _start_step(draft: Draft, stepper: ui.stepper) -> tuple[ui.input, When]:
    name = ui.input(_("Contract name"), placeholder=_("e.g. November sale")).props("outlined")
    name.classes("w-full max-w-md")
    name.on_value_change(lambda e: draft.remember_soon(name=e.value or ""))
    when = _when_inputs()
    late = ui.label().classes("text-body2 text-warning").mark("late")
    busy = ui.linear_progress(show_value=False).props("indeterminate")
    busy.set_visibility(False)

    async def check_late() -> None:
        draft.remember_soon(when=when.chosen())
        late.set_text(await _late(draft, when))

    for element in when.inputs():
        element.on_value_change(check_late)

    async def create() -> None:
        to_send = _to_send(draft)
        if to_send is None or (times := await _times(when)) is None:
            return
        create_button.disable()
        busy.set_visibility(True)
        try:
            launched = await _create(*to_send, name.value or "", *times, when.window())
        finally:
            busy.set_visibility(False)
            create_button.enable()
        if launched is None:
            return
        await draft.forget()
        if launched.refused is not None:
            show_failure(launched.refused)
        created = ngettext(
            "Contract created with {n} recipient",
            "Contract created with {n} recipients",
            launched.contract.total_count,
        )
        ui.notify(created, type="positive")
        ui.navigate.to(f"/contracts/{launched.contract.id}")

    with ui.stepper_navigation():
        _back(stepper)
        create_button = ui.button(_("Create contract"), icon="send", on_click=create)
    return name, when


async def _times(when: When) -> tuple[Start, datetime | None] | None:
    """The start and the deadline chosen; None when the start is missing or past (the user is told)."""
    start: Start = "now" if when.start.value == "now" else None
    if when.start.value == "later" and (start := await _local_time(when.at.value)) is None:
        return None
    return start, local_moment(when.deadline.value) if when.deadline.value else None


async def _late(draft: Draft, when: When) -> str:
    """A warning when by the plan the contract would finish after the deadline chosen."""
    if not when.deadline.value or draft.zones is None:
        return ""
    try:
        window = SendWindow.of(when.window())
    except ValueError:  # a time not filled in (yet)
        return ""
    deadline = local_moment(when.deadline.value)
    later = when.start.value == "later" and when.at.value
    start = local_moment(when.at.value) if later else None
    finish = await estimates.draft_finish(draft.account_ids, draft.zones, draft.template, window, start)
    if finish is None or finish <= deadline:
        return ""
    return _("By the plan it would finish about {time}, after the deadline").format(time=when_(finish))


def _to_send(draft: Draft) -> tuple[list[str], Report] | None:
    """The accounts and the checked rows, if they may become a contract (the user is told why not)."""
    if draft.report is None or not draft.account_ids:
        ui.notify(_("Check the recipients first"), type="warning")
        return None
    if not draft.report.clean and not draft.leave_out_problem_rows:
        ui.notify(_("Some rows have problems: leave them out, or fix the file"), type="warning")
        return None
    return draft.account_ids, draft.report


async def _create(
    account_ids: list[str],
    report: Report,
    name: str,
    start: Start,
    deadline: datetime | None,
    window: dict[str, Any],
) -> contracts.Launched | None:
    """A contract of the rows that passed the check, started as chosen; None if it was refused."""
    who = page_user()  # its creator, who may cancel or delete it
    phone_numbers, messages = await asyncio.to_thread(report.kept)
    return await attempt(
        lambda: contracts.create_and_launch(
            account_ids,
            name,
            phone_numbers,
            messages,
            start,
            send_window=window,
            deadline=deadline,
            phone_region="",  # the check gave every number its country code
            created_by=who,
        )
    )


async def _local_time(value: str | None) -> datetime | None:
    """The start chosen in the page's zone; None (the user is told) if missing or past."""
    if not value:
        ui.notify(_("Choose when to start"), type="warning")
        return None
    at = local_moment(value)
    if at <= datetime.now(UTC):
        ui.notify(_("That time has passed; choose a later one or start now"), type="warning")
        return None
    return at


def _report(report: Report, total: int, draft: Draft) -> None:
    dropped = report.dropped_rows()
    with ui.row().classes("gap-4"):
        for label, n, color in (
            (_("ready to send"), total - len(dropped), "positive"),
            (_("invalid numbers"), len(report.invalid), "negative"),
            (_("repeated numbers"), len(report.duplicates), "warning"),
            (_("opted out"), len(report.opted_out), "grey-8"),
            (_("bad messages"), len(report.bad_messages), "negative"),
        ):
            with ui.card().classes("items-center p-3"):
                ui.label(number(n)).classes(f"text-h6 text-{color}")
                ui.label(label).classes("text-caption")
    sections = (
        (
            _("Invalid numbers"),
            [_("row"), _("as written"), _("why")],
            [[str(r), n, tr(w)] for r, n, w in report.invalid],
        ),
        (
            _("Repeated numbers (the first is kept)"),
            [_("row"), _("number"), _("first seen in row")],
            [list(map(str, r)) for r in report.duplicates],
        ),
        (
            _("Opted out of these accounts"),
            [_("row"), _("number")],
            [list(map(str, r)) for r in report.opted_out],
        ),
        (
            _("Messages that cannot be sent"),
            [_("row"), _("why")],
            [[str(r), tr(w)] for r, w in report.bad_messages],
        ),
    )
    for title, columns, rows in sections:
        if rows:
            shown = _("{title}: {n}").format(title=title, n=number(len(rows)))
            if len(rows) > LISTED_PROBLEMS:
                shown += " " + _("(first {listed} of {n})").format(
                    listed=LISTED_PROBLEMS, n=number(len(rows))
                )
            with ui.expansion(shown, icon="report").classes("w-full"):
                text_table(columns, rows[:LISTED_PROBLEMS])
    if dropped:
        leave_out = ngettext("Leave this {n} row out", "Leave these {n} rows out", len(dropped))
        ui.checkbox(leave_out, value=True).bind_value(draft, "leave_out_problem_rows")
        download = ui.button(_("Download the rows left out"), icon="download")
        download.on_click(lambda: _download_left_out(report, draft.owner))
        download.props("outline").mark("download-left-out")
    else:
        ui.label(_("Every row is fine.")).classes("text-positive")


async def _download_left_out(report: Report, owner: str) -> None:
    """The rows left out as they were uploaded, each with its problems, as CSV for Excel: to fix and
    upload again. (Translated here: the page's language is not known in the thread that writes it.)"""
    table = report.table
    why = {at: "; ".join(tr(p) for p in problems) for at, problems in report.problems().items()}
    header = [_("row"), *table.columns, _("problem")]

    def write(file: BinaryIO) -> None:
        rows = ([at, *row, why[at]] for at, row in enumerate(table.rows(), start=1) if at in why)
        with io.TextIOWrapper(file, encoding="utf-8", newline="") as text:
            exports.csv_for_excel(chain([header], rows), text)

    ui.download.from_url(await handoff.make(owner, "left-out.csv", "text/csv; charset=utf-8", write))
