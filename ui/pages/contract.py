"""One contract, live: progress, rate and ETA, sends per minute, recipients by outcome with search and
paging on the server, CSV export, start / pause / resume, cancel (not over yet) and delete (not
running), each asked first and offered to whoever may (services/users.py: may_stop), and its send
window, scheduled start and deadline (the two changed in a dialog)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from nicegui import events, ui

from models import Contract, ContractStatus, RecipientStatus
from models.enums import ACTIVE_CONTRACT
from services import contracts, dashboard, users
from services.dashboard import Progress
from services.errors import NotFound
from services.timezones import SendWindow
from ui.frame import aria, attempt, chip, confirm, empty_state, page_user, person, status_name
from ui.i18n import N_, _, duration, js_number, local_moment, number, stored, tr, when, zone

PAGE_SIZE = 25
TABS = {"SENT": N_("Sent"), "FAILED": N_("Failed"), "SKIPPED": N_("Skipped"), "": N_("All")}


@dataclass
class Timing:
    """The contract's send window, scheduled start and deadline, with the buttons that change them."""

    window: ui.label
    start: ui.label
    deadline: ui.label
    late: ui.label
    schedule: ui.button
    set_deadline: ui.button


@dataclass
class Summary:
    """The parts of the page each refresh rewrites."""

    status: ui.row
    reason: ui.label
    actions: ui.row
    timing: Timing
    bar: ui.linear_progress
    cards: dict[str, ui.label]
    chart: ui.echart
    pool: ui.table


async def contract_page(contract_id: str) -> None:
    page = ui.column().classes("w-full")
    try:
        progress = await dashboard.progress(contract_id)
    except NotFound:
        _gone(page)
        return
    with page:
        summary = _summary(progress.contract)
    may_stop = await users.may_stop(page_user(), progress.contract.created_by)

    async def refresh() -> None:
        try:
            p = await dashboard.progress(contract_id)
        except NotFound:  # deleted while the page was open: its timers go with what it showed
            _gone(page)
            return
        _show_progress(summary, p)
        _show_timing(summary.timing, p)
        _show_sends(summary.chart, await dashboard.sends_over_time(contract_id))
        _buttons(summary.actions, p.contract.status, contract_id, refresh, may_stop)

    with page:
        await refresh()
        ui.timer(1.0, refresh)
        await _recipients(contract_id)


def _gone(page: ui.column) -> None:
    """A contract that is not there (deleted, here or elsewhere), said calmly: an expected outcome."""
    page.clear()
    with page:
        empty_state(_("This contract does not exist or was deleted."))
        ui.link(_("Back to the overview"), "/")


def _summary(c: Contract) -> Summary:
    with ui.row().classes("w-full items-center gap-3"):
        ui.label(c.name or c.id).classes("text-h6")
        if c.created_by:
            ui.label(_("created by {name}").format(name=person(c.created_by))).classes("text-caption")
        status = ui.row()
        reason = ui.label().classes("text-caption text-warning")
        ui.space()
        actions = ui.row().classes("gap-2")
    timing = _timing(c.id)
    bar = ui.linear_progress(0, show_value=False, size="12px").classes("w-full")
    with ui.row().classes("w-full gap-3"):
        cards = {
            key: _card(key, label)
            for key, label in (
                ("sent", _("sent")),
                ("failed", _("failed")),
                ("skipped", _("skipped")),
                ("remaining", _("remaining")),
                ("delivered", _("delivered")),
                ("read", _("read")),
                ("per-minute", _("per minute")),
                ("time-left", _("time left")),
            )
        }
    return Summary(status, reason, actions, timing, bar, cards, _chart(), _pool_table())


def _timing(contract_id: str) -> Timing:
    with ui.row().classes("w-full items-center gap-4 text-body2"):
        window, start, deadline = ui.label(), ui.label(), ui.label()
        late = ui.label().classes("text-warning").mark("late")
        ui.space()
        schedule = ui.button(
            _("Schedule"),
            icon="schedule",
            on_click=lambda: _change_time(
                _("Start by itself at"),
                _("Don't start by itself"),
                partial(contracts.schedule_contract, contract_id),
            ),
        )
        set_deadline = ui.button(
            _("Deadline"),
            icon="event",
            on_click=lambda: _change_time(
                _("Deadline"), _("No deadline"), partial(contracts.set_deadline, contract_id)
            ),
        )
    schedule.props("outline").mark("schedule")
    set_deadline.props("outline").mark("set-deadline")
    return Timing(window, start, deadline, late, schedule, set_deadline)


async def _change_time(
    title: str, clear: str, change: Callable[[datetime | None], Awaitable[Contract]]
) -> None:
    """Ask for a time (in the browser's local time) and `change` to it, or to none (`clear`). The page's
    refresh shows the outcome."""
    with ui.context.client.layout, ui.dialog() as dialog, ui.card().classes("w-96"):
        ui.label(title).classes("text-h6")
        label = _("Time ({zone})").format(zone=zone().key)
        at = ui.input(label).props("outlined type=datetime-local").classes("w-full")
        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=lambda: dialog.submit("")).props("flat")
            ui.button(clear, on_click=lambda: dialog.submit("clear")).props("flat")
            ui.button(_("Save"), on_click=lambda: dialog.submit("save")).mark("save-time")
    answer, value = await dialog, at.value
    dialog.delete()
    if answer == "clear":
        await attempt(lambda: change(None), _("Cleared"))
    elif answer == "save" and not value:
        ui.notify(_("Choose a time first"), type="warning")
    elif answer == "save":
        at_moment = local_moment(value)
        await attempt(lambda: change(at_moment), _("Saved"))


def _show_timing(t: Timing, p: Progress) -> None:
    """The times of the contract, and a warning when its plan ends after its deadline."""
    c = p.contract
    pending = c.status == ContractStatus.PENDING
    window = tr(SendWindow.of(c.send_window).describe())
    t.window.set_text(_("Sends {window} in each recipient's local time").format(window=window))
    t.start.set_text(_("Starts at {time}").format(time=when(c.start_at)) if pending and c.start_at else "")
    t.deadline.set_text(_("Deadline {time}").format(time=when(c.deadline)) if c.deadline else "")
    late = c.deadline is not None and p.finish_at is not None and p.finish_at > c.deadline
    after = _("By the plan it finishes {time}, after the deadline")
    t.late.set_text(after.format(time=when(p.finish_at)) if late else "")
    t.schedule.set_visibility(pending)
    t.set_deadline.set_visibility(c.status in contracts.NOT_OVER)


def _pool_table() -> ui.table:
    """What each account of the pool has sent of this contract."""
    columns = [
        {"name": "account", "label": _("Account"), "field": "account", "align": "left"},
        {"name": "status", "label": _("Status"), "field": "status", "align": "left"},
        {"name": "sent", "label": _("Sent"), "field": "sent"},
        {"name": "failed", "label": _("Failed"), "field": "failed"},
        {"name": "skipped", "label": _("Skipped"), "field": "skipped"},
    ]
    return ui.table(columns=columns, rows=[], row_key="account").props("dense flat").classes("w-full")


def _chart() -> ui.echart:
    """Sends per minute, its figures written by the page's language (the browser draws them)."""
    sent, failed = _("sent"), _("failed")
    return ui.echart(
        {
            "tooltip": {"trigger": "axis", ":valueFormatter": js_number()},
            "legend": {"data": [sent, failed]},
            "xAxis": {
                "type": "category",
                "data": [],
                "name": zone().key,
                "nameLocation": "center",
                "nameGap": 28,
            },
            "yAxis": {"type": "value", "minInterval": 1, "axisLabel": {":formatter": js_number()}},
            "series": [
                {"name": sent, "type": "bar", "stack": "n", "data": [], "color": "#25D366"},
                {"name": failed, "type": "bar", "stack": "n", "data": [], "color": "#C10015"},
            ],
        }
    ).classes("w-full h-64")


def _show_progress(summary: Summary, p: Progress) -> None:
    summary.status.clear()
    with summary.status:
        chip(p.contract.status)
    waiting = _("Waiting: {reason}").format(reason=tr(p.waiting_reason)) if p.waiting_reason else ""
    summary.reason.set_text(stored(p.contract.paused_reason or p.contract.error_message or "") or waiting)
    summary.pool.rows = [
        {
            "account": a.name or a.account_id,
            "status": status_name(a.status),
            "sent": number(a.sent),
            "failed": number(a.failed),
            "skipped": number(a.skipped),
        }
        for a in p.accounts
    ]
    summary.pool.update()
    summary.bar.set_value(p.done / p.total if p.total else 0)
    values = {
        "sent": p.counts[RecipientStatus.SENT],
        "failed": p.counts[RecipientStatus.FAILED],
        "skipped": p.counts[RecipientStatus.SKIPPED],
        "remaining": p.remaining,
        "delivered": p.contract.delivered_count,
        "read": p.contract.read_count,
    }
    for key, value in values.items():
        summary.cards[key].set_text(number(value))
    summary.cards["per-minute"].set_text(number(round(p.per_minute)))
    moving = p.contract.status in (ContractStatus.QUEUED, ContractStatus.IN_PROGRESS)
    summary.cards["time-left"].set_text(duration(p.eta_s) if moving and p.eta_s is not None else "—")


def _show_sends(chart: ui.echart, series: list[tuple[datetime, int, int]]) -> None:
    """Sent and failed per minute, or per hour once the sending has gone on for hours."""
    hourly = len(series) > 1 and series[1][0] - series[0][0] >= timedelta(hours=1)
    chart.options["xAxis"]["data"] = [when(m, with_date=hourly) for m, _s, _f in series]
    chart.options["series"][0]["data"] = [s for _m, s, _f in series]
    chart.options["series"][1]["data"] = [f for _m, _s, f in series]
    chart.update()


def _card(key: str, label: str) -> ui.label:
    with ui.card().classes("items-center p-3 min-w-28"):
        value = ui.label("0").classes("text-h6").props(f"data-card={key}")
        ui.label(label).classes("text-caption text-grey-8")
    return value


def _buttons(
    row: ui.row,
    status: ContractStatus,
    contract_id: str,
    refresh: Callable[[], Awaitable[None]],
    may_stop: bool,
) -> None:
    """The actions the contract's status allows: Cancel while it is not over and Delete while it is
    not running, for whoever may stop it."""
    wanted = []
    if status == ContractStatus.PENDING:
        wanted.append((_("Start"), "play_arrow", contracts.start_contract, _("Started")))
    if status in ACTIVE_CONTRACT:
        wanted.append((_("Pause"), "pause", contracts.pause_contract, _("Paused")))
    if status == ContractStatus.PAUSED:
        wanted.append((_("Resume"), "play_arrow", contracts.start_contract, _("Resumed")))
    cancellable = may_stop and status in contracts.NOT_OVER
    deletable = may_stop and status not in ACTIVE_CONTRACT
    key = (*(label for label, *_ in wanted), cancellable, deletable)
    if getattr(row, "shown", None) == key:
        return
    row.shown = key  # type: ignore[attr-defined]
    row.clear()
    with row:
        for label, icon, action, done in wanted:

            async def act(button: ui.button, action=action, done=done) -> None:
                button.disable()
                try:
                    await attempt(lambda: action(contract_id), done)
                    await refresh()
                finally:
                    button.enable()

            b = ui.button(label, icon=icon)
            b.on_click(lambda _, b=b, act=act: act(b))
        _export_menu(contract_id)
        if cancellable:
            cancel = ui.button(
                _("Cancel contract"),
                icon="cancel",
                color="negative",
                on_click=lambda: _cancel(contract_id, refresh),
            )
            cancel.props("outline").mark("cancel")
        if deletable:
            delete = ui.button(
                _("Delete"), icon="delete", color="negative", on_click=lambda: _delete(contract_id)
            )
            delete.props("outline").mark("delete")


def _export_menu(contract_id: str) -> None:
    with ui.dropdown_button(_("Export"), icon="download").props("outline"):
        for label, kind in ((_("Excel workbook (.xlsx)"), "xlsx"), (_("CSV for Excel (;)"), "csv")):
            target = f"/ui/contracts/{contract_id}/export.{kind}"
            ui.item(label, on_click=lambda target=target: ui.navigate.to(target)).mark(f"export-{kind}")


async def _cancel(contract_id: str, refresh: Callable[[], Awaitable[None]]) -> None:
    who = page_user()
    text = _(
        "Sending stops for good. What was sent, the report and the exports stay; "
        "recipients not sent yet are marked skipped."
    )
    asked = _("Cancel this contract?")
    if await confirm(asked, text, _("Cancel contract"), _("Keep it"), "confirm-cancel") and await attempt(
        lambda: contracts.cancel_contract(contract_id, who), _("Cancelled")
    ):
        await refresh()


async def _delete(contract_id: str) -> None:
    who = page_user()
    text = _("The contract is removed with its report and every recipient row. This cannot be undone.")
    asked = _("Delete this contract?")
    if await confirm(asked, text, _("Delete"), _("Keep it"), "confirm-delete") and await attempt(
        lambda: _remove(contract_id, who), _("Deleted")
    ):
        ui.navigate.to("/")


async def _remove(contract_id: str, who: str) -> bool:
    await contracts.delete_contract(contract_id, who, running_too=False)
    return True


@dataclass
class Pages:
    """Which recipients are shown: the outcome ("" for all), the number searched for, the cursor of
    each page up to this one, and of the page after it (None on the last)."""

    status: str = "SENT"
    search: str = ""
    cursors: list[int | None] = field(default_factory=lambda: [None])
    next: int | None = None

    def turn(self, step: int) -> None:
        if step > 0 and self.next is not None:
            self.cursors.append(self.next)
        elif step < 0 and len(self.cursors) > 1:
            self.cursors.pop()

    def restart(self) -> None:
        self.cursors = [None]


async def _recipients(contract_id: str) -> None:
    """Recipients of one outcome, a page at a time (keyset paging: fast at any depth of a million)."""
    pages = Pages()
    with ui.card().classes("w-full"):
        with ui.row().classes("w-full items-center"):
            tabs = ui.tabs().props("dense align=left")
            with tabs:
                for key, label in TABS.items():
                    ui.tab(key or "ALL", _(label))
            ui.space()
            search = ui.input(_("Search"), placeholder=_("a number or words of the message"))
            search.props("dense outlined clearable debounce=400").classes("w-72").mark("search")
        table = _recipient_table()
        with ui.row().classes("items-center"):
            previous = ui.button(icon="chevron_left", on_click=lambda: turn(-1)).props("flat dense")
            aria(previous, _("Previous page"))
            page_label = ui.label()
            following = ui.button(icon="chevron_right", on_click=lambda: turn(1)).props("flat dense")
            aria(following, _("Next page")).mark("next-page")

    async def load() -> None:
        table.rows = await _page_rows(contract_id, pages)
        table.update()
        page_label.set_text(_("page {n}").format(n=len(pages.cursors)))
        previous.set_enabled(len(pages.cursors) > 1)
        following.set_enabled(pages.next is not None)

    async def turn(step: int) -> None:
        pages.turn(step)
        await load()

    async def on_tab(e: events.ValueChangeEventArguments) -> None:
        pages.status = "" if e.value == "ALL" else e.value
        pages.restart()
        await load()

    async def on_search(e: events.ValueChangeEventArguments) -> None:
        pages.search = e.value or ""
        pages.restart()
        await load()

    async def live() -> None:
        if len(pages.cursors) == 1:  # the first page follows the sending; deeper pages stay put
            await load()

    tabs.set_value("SENT")
    tabs.on_value_change(on_tab)
    search.on_value_change(on_search)
    await load()
    ui.timer(3.0, live)


def _recipient_table() -> ui.table:
    return (
        ui.table(
            columns=[
                {"name": "position", "label": "#", "field": "position", "align": "right"},
                {"name": "phone", "label": _("Phone"), "field": "phone", "align": "left"},
                {"name": "status", "label": _("Status"), "field": "status", "align": "left"},
                {
                    "name": "when",
                    "label": _("Sent ({zone})").format(zone=zone().key),
                    "field": "when",
                    "align": "left",
                },
                {"name": "note", "label": _("Error / reason"), "field": "note", "align": "left"},
                {"name": "message", "label": _("Message"), "field": "message", "align": "left"},
            ],
            rows=[],
            row_key="position",
        )
        .props("dense flat wrap-cells")
        .classes("w-full")
    )


async def _page_rows(contract_id: str, pages: Pages) -> list[dict]:
    """The rows of the current page, as the table shows them; notes the cursor of the next page."""
    status = RecipientStatus(pages.status) if pages.status else None
    rows, pages.next = await contracts.recipients_page(
        contract_id, status, PAGE_SIZE, pages.cursors[-1], search=pages.search
    )
    return [
        {
            "position": r["position"] + 1,
            "phone": r["phone_number"],
            "status": status_name(r["status"]),
            "when": when(r["sent_at"]),
            "note": stored(r["error_message"] or ""),
            "message": r["message"] if len(r["message"]) <= 120 else r["message"][:119] + "…",
        }
        for r in rows
    ]
