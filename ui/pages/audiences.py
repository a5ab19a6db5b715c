"""Audiences: recipient lists saved from past uploads, with a name and tags; found by name or tag,
renamed and retagged, deleted, or made into a new contract (the wizard with its recipients)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from nicegui import ui

from services import audiences
from services.audiences import Listed
from ui.frame import aria, attempt, confirm, empty_state, page_user, person
from ui.i18n import _, ngettext, when


def audience_label(a: Listed) -> str:
    """An audience as a choice reads: its name, rows and tags (searchable by any of them)."""
    rows = ngettext("{n} row", "{n} rows", a.row_count)
    return " · ".join([a.name, rows, *(f"#{t}" for t in a.tags)])


async def name_and_tags(
    title: str, audience_id: str, user: str, name: str = "", tags: Sequence[str] = ()
) -> Listed | None:
    """Ask for an audience's name and tags and save them (audiences.save); the dialog stays open,
    with what was typed, while they are refused. None if cancelled."""
    with ui.context.client.layout, ui.dialog() as dialog, ui.card().classes("w-96 gap-3"):
        ui.label(title).classes("text-h6")
        named = ui.input(_("Name"), value=name).props("outlined autofocus").classes("w-full")
        tagged = ui.input_chips(_("Tags"), value=list(tags), new_value_mode="add-unique").props("outlined")
        hint = _("Type a tag and press Enter, or separate tags with commas: clients, Moscow, November.")
        ui.label(hint).classes("text-caption")

        async def save() -> None:
            chosen = [t.strip() for chip in tagged.value or [] for t in chip.split(",") if t.strip()]
            saved = await attempt(
                lambda: audiences.save(audience_id, named.value or "", chosen, user), _("Saved")
            )
            if saved is not None:
                dialog.submit(saved)

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=lambda: dialog.submit(None)).props("flat")
            ui.button(_("Save"), on_click=save).mark("save-audience-name")
    named.mark("audience-name")
    tagged.mark("audience-tags")
    saved = await dialog
    dialog.delete()
    return saved


async def audiences_page() -> None:
    who = page_user()
    ui.label(_("Recipient lists saved from uploads, to send to again.")).classes("text-body2 text-grey-8")
    with ui.row().classes("w-full items-center gap-4"):
        search = ui.input(_("Search by name")).props("outlined dense clearable").classes("w-64")
        tag = ui.select({"": _("Every tag")}, value="").props("outlined dense").classes("w-48")
        aria(tag, _("Tag")).mark("tag-filter")
    listing = ui.column().classes("w-full gap-4")
    shown = 0  # the newest listing asked for; an older one that answers later is not shown

    async def show() -> None:
        nonlocal shown
        shown += 1
        asked = shown
        found = await audiences.saved(search.value or "", tag.value or "")
        every_tag = await audiences.tags()
        if asked != shown:
            return
        tag.set_options({"": _("Every tag"), **{t: f"#{t}" for t in every_tag}}, value=tag.value or "")
        listing.clear()
        with listing:
            if found:
                for a in found:
                    _card(a, who, show)
            elif search.value or tag.value:
                empty_state(_("Nothing matches"), _("Try another name or tag."))
            else:
                empty_state(
                    _("No audience here"), _("Save an upload as an audience in the new-contract wizard.")
                )

    search.on_value_change(show)
    tag.on_value_change(show)
    await show()


def _card(a: Listed, who: str, listing: Callable[[], Awaitable[None]]) -> None:
    with ui.card().classes("w-full").props(f"data-audience={a.id}"), ui.row().classes("w-full items-center"):
        ui.icon("groups", size="md")
        with ui.column().classes("gap-0"):
            ui.label(a.name).classes("text-subtitle1 text-weight-medium")
            rows = ngettext("{n} row", "{n} rows", a.row_count)
            columns = _("columns: {columns}").format(columns=", ".join(a.columns))
            ui.label(f"{rows} · {columns}").classes("text-caption text-grey-8")
            saved = _("saved by {name} at {time}").format(name=person(a.owner), time=when(a.created_at))
            ui.label(saved).classes("text-caption text-grey-8")
        for t in a.tags:
            ui.chip(f"#{t}").props("dense outline")
        ui.space()
        new = ui.button(_("New contract"), icon="send", on_click=lambda: _new_contract(a))
        new.props("outline").mark("contract-from-audience")
        edit = ui.button(icon="edit", on_click=lambda: _edit(a, who, listing)).props("flat round")
        aria(edit, _("Rename or retag {name}").format(name=a.name)).mark("edit-audience")
        remove = ui.button(icon="delete", on_click=lambda: _delete(a, who, listing)).props(
            "flat round color=negative"
        )
        aria(remove, _("Delete {name}").format(name=a.name)).mark("delete-audience")


def _new_contract(a: Listed) -> None:
    """The wizard with this audience (it asks before it replaces a draft)."""
    ui.navigate.to(f"/contracts/new?audience={a.id}")


async def _edit(a: Listed, who: str, listing: Callable[[], Awaitable[None]]) -> None:
    if await name_and_tags(_("Rename or retag {name}").format(name=a.name), a.id, who, a.name, a.tags):
        await listing()


async def _delete(a: Listed, who: str, listing: Callable[[], Awaitable[None]]) -> None:
    asked = _("Delete {name}?").format(name=a.name)
    text = _("The list is gone; contracts already made from it keep their recipients.")
    if await confirm(asked, text, _("Delete"), _("Keep it"), "confirm-delete-audience"):
        await attempt(lambda: audiences.delete(a.id, who), _("Deleted"))
        await listing()
