"""The overview: the seed's queue status, every contract with filters by account and status, and
which workers are alive and which accounts each holds."""

from __future__ import annotations

from dataclasses import dataclass

from nicegui import ui

from models import Contract, ContractStatus
from services import accounts, contracts, dashboard, health
from services.queues import queue_status
from ui.frame import aria, chip, empty_state, status_name
from ui.i18n import _, number, when

PAGE_SIZE = 20


@dataclass
class Listed:
    """Which contracts the list shows: its filters, and how many it has paged past."""

    account: str | None = None
    status: str | None = None
    offset: int = 0


async def overview_page() -> None:
    with ui.row().classes("w-full items-center"):
        cards = ui.row().classes("gap-3")
        ui.space()
        ui.button(_("New contract"), icon="add", on_click=lambda: ui.navigate.to("/contracts/new"))
    names = {a.id: a.name or a.id for a in await accounts.list_accounts()}
    listed = Listed()
    account, status = _filters(names)
    listing = ui.column().classes("w-full gap-2")
    with ui.row().classes("items-center"):
        previous = ui.button(icon="chevron_left", on_click=lambda: turn(-1)).props("flat dense")
        aria(previous, _("Previous page"))
        following = ui.button(icon="chevron_right", on_click=lambda: turn(1)).props("flat dense")
        aria(following, _("Next page"))
    ui.label(_("Workers")).classes("text-h6")
    workers = ui.column().classes("w-full")

    async def refresh() -> None:
        await _queue_cards(cards)
        more = await _contract_list(listing, listed, names)
        previous.set_enabled(listed.offset > 0)
        following.set_enabled(more)
        await _workers(workers)

    async def turn(step: int) -> None:
        listed.offset = max(0, listed.offset + step * PAGE_SIZE)
        await refresh()

    async def filtered() -> None:
        listed.account, listed.status, listed.offset = account.value, status.value, 0
        await refresh()

    account.on_value_change(filtered)
    status.on_value_change(filtered)
    await refresh()
    ui.timer(2.0, refresh)


def _filters(names: dict[str, str]) -> tuple[ui.select, ui.select]:
    with ui.row().classes("w-full items-center gap-3"):
        account = ui.select({None: _("All accounts"), **names}, value=None, label=_("Account")).props(
            "outlined dense"
        )
        account.classes("w-64").mark("account-filter")
        status = (
            ui.select(
                {None: _("All statuses"), **{s.value: status_name(s.value) for s in ContractStatus}},
                value=None,
                label=_("Status"),
            )
            .props("outlined dense")
            .classes("w-48")
        )
    return account, status


async def _queue_cards(cards: ui.row) -> None:
    q = await queue_status()
    cards.clear()
    with cards:
        for label, value in (
            (_("contracts waiting"), q["contracts"]["waiting"]),
            (_("contracts active"), q["contracts"]["active"]),
            (_("contracts completed"), q["contracts"]["completed"]),
            (_("messages waiting"), q["messages"]["waiting"]),
            (_("messages sent"), q["messages"]["completed"]),
            (_("messages failed"), q["messages"]["failed"]),
        ):
            with ui.card().classes("items-center p-3"):
                ui.label(number(value)).classes("text-h6")
                ui.label(label).classes("text-caption text-grey-8")


async def _contract_list(listing: ui.column, listed: Listed, names: dict[str, str]) -> bool:
    """One page of the contracts; whether there are more after it."""
    rows = await contracts.list_contracts(listed.account, listed.status, PAGE_SIZE + 1, listed.offset)
    listing.clear()
    with listing:
        if not rows:
            empty_state(_("No contract here yet."), _("Create one with New contract."))
        shown = rows[:PAGE_SIZE]
        progress = await dashboard.done_and_total([c.id for c in shown])
        for c in shown:
            _contract_row(c, *progress[c.id], names.get(c.account_id, c.account_id))
    return len(rows) > PAGE_SIZE


def _contract_row(c: Contract, done: int, total: int, account_name: str) -> None:
    """A contract as a link (reached with Tab, opened with Enter), laid out as a card."""
    with (
        ui.link(target=f"/contracts/{c.id}").classes("w-full no-underline text-inherit"),
        ui.card().classes("w-full"),
        ui.row().classes("w-full items-center gap-4"),
    ):
        ui.label(c.name or c.id).classes("text-subtitle1 text-weight-medium w-64 ellipsis")
        chip(c.status)
        ui.label(account_name).classes("text-caption text-grey-8")
        ui.space()
        ui.linear_progress(done / total if total else 0, show_value=False).classes("w-48")
        ui.label(f"{number(done)} / {number(total)}").classes("text-caption w-32 text-right")


async def _workers(workers: ui.column) -> None:
    workers.clear()
    with workers:
        alive = await health.workers()
        if not alive:
            ui.label(_("No worker has reported yet: start one (python cli.py worker).")).classes(
                "text-negative"
            )
        for w in alive:
            with ui.row().classes("items-center gap-3"):
                ui.icon("circle", color="positive" if w.alive else "negative", size="xs")
                ui.label(f"{w.id}").classes("text-weight-medium")
                seen = _("alive") if w.alive else _("last seen {time}").format(time=when(w.seen_at))
                if w.accounts:
                    held = _("{seen} · holds {accounts}").format(seen=seen, accounts=", ".join(w.accounts))
                else:
                    held = _("{seen} · holds no account now").format(seen=seen)
                ui.label(held).classes("text-caption")
