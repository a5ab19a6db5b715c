"""Audiences: recipient lists saved from past uploads, with a name and tags; found by name or tag,
renamed and retagged, deleted, or made into a new contract (the wizard with its recipients)."""

from __future__ import annotations

from nicegui import ui

from services import audiences
from services.audiences import Listed
from ui.frame import aria, attempt, confirm, empty_state, person, signed_in
from ui.i18n import _, ngettext, when


def audience_label(a: Listed) -> str:
    """An audience as a choice reads: its name, rows and tags (searchable by any of them)."""
    rows = ngettext("{n} row", "{n} rows", a.row_count)
    return " · ".join([a.name, rows, *(f"#{t}" for t in a.tags)])


async def name_and_tags(title: str, name: str, tags: list[str]) -> tuple[str, list[str]] | None:
    """Ask for an audience's name and tags; None if cancelled."""
    with ui.context.client.layout, ui.dialog() as dialog, ui.card().classes("w-96 gap-3"):
        ui.label(title).classes("text-h6")
        named = (
            ui.input(_("Name"), value=name)
            .props("outlined autofocus")
            .classes("w-full")
            .mark("audience-name")
        )
        tagged = ui.input_chips(_("Tags"), value=tags, new_value_mode="add-unique").props("outlined")
        tagged.classes("w-full").mark("audience-tags")
        ui.label(_("Type a tag and press Enter; e.g. clients, Moscow, November.")).classes("text-caption")
        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=lambda: dialog.submit(False)).props("flat")
            ui.button(_("Save"), on_click=lambda: dialog.submit(True)).mark("save-audience-name")
    save, chosen = await dialog, (named.value or "", list(tagged.value or []))
    dialog.delete()
    return chosen if save else None


async def audiences_page() -> None:
    who = await signed_in() or ""
    ui.label(_("Recipient lists saved from uploads, to send to again.")).classes("text-body2 text-grey-8")
    with ui.row().classes("w-full items-center gap-4"):
        search = ui.input(_("Search by name")).props("outlined dense clearable").classes("w-64")
        tag = ui.select({"": _("Every tag"), **{t: f"#{t}" for t in await audiences.tags()}}, value="")
        tag.props("outlined dense").classes("w-48")
        aria(tag, _("Tag")).mark("tag-filter")

    @ui.refreshable
    async def listing() -> None:
        found = await audiences.saved(search.value or "", tag.value or "")
        if not found:
            empty_state(_("No audience here"), _("Save an upload as an audience in the new-contract wizard."))
        for a in found:
            _card(a, who, listing)

    search.on_value_change(listing.refresh)
    tag.on_value_change(listing.refresh)
    await listing()


def _card(a: Listed, who: str, listing: ui.refreshable) -> None:
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
        new = ui.button(
            _("New contract"), icon="send", on_click=lambda: ui.navigate.to(f"/contracts/new?audience={a.id}")
        )
        new.props("outline").mark("contract-from-audience")
        edit = ui.button(icon="edit", on_click=lambda: _edit(a, who, listing)).props("flat round")
        aria(edit, _("Rename or retag {name}").format(name=a.name)).mark("edit-audience")
        remove = ui.button(icon="delete", on_click=lambda: _delete(a, who, listing)).props(
            "flat round color=negative"
        )
        aria(remove, _("Delete {name}").format(name=a.name)).mark("delete-audience")


async def _edit(a: Listed, who: str, listing: ui.refreshable) -> None:
    chosen = await name_and_tags(_("Rename or retag {name}").format(name=a.name), a.name, a.tags)
    if chosen and await attempt(lambda: audiences.save(a.id, *chosen, who), _("Saved")):
        listing.refresh()


async def _delete(a: Listed, who: str, listing: ui.refreshable) -> None:
    asked = _("Delete {name}?").format(name=a.name)
    text = _("The list is gone; contracts already made from it keep their recipients.")
    if await confirm(asked, text, _("Delete"), _("Keep it"), "confirm-delete-audience"):
        await attempt(lambda: audiences.delete(a.id, who), _("Deleted"))
        listing.refresh()
