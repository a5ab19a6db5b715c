"""The wizard's recipients step: a CSV or XLSX file uploaded, rows pasted, or a saved audience; the
upload kept with the draft (services/audiences.py), and saved as an audience if the user wants it
again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from nicegui import events, ui

from services import audiences
from services.recipient_files import csv_rows, wizard_table
from services.recipient_files.wizard_table import Table
from settings import get_settings
from texts import say
from ui.frame import attempt, empty_state, text_table
from ui.i18n import _, ngettext, number
from ui.page_memory import Upload
from ui.pages.audiences import audience_label, name_and_tags
from ui.pages.wizard_draft import Draft

PREVIEW_ROWS = 5
Take = Callable[[Table, str, str | None], Awaitable[None]]


async def recipients_step(draft: Draft, on_table: Callable[[], object]) -> Take:
    """The step's content; returns what takes a table in (with where it is stored, and the name of
    the audience it is, if any)."""
    ui.label(
        _(
            "A CSV or Excel file with a header row (CSV in UTF-8, UTF-16 or Windows-1251, separated by "
            "commas, semicolons or tabs), or numbers pasted one per line, or an audience saved before."
        )
    )
    loaded = ui.label().classes("text-body2").mark("loaded")
    kept = ui.row().classes("items-center gap-2")
    raw_preview = ui.column().classes("w-full")

    async def take(table: Table, audience_id: str, audience_name: str | None) -> None:
        draft.set_table(table, audience_id, audience_name)
        rows = ngettext("{n} row", "{n} rows", table.count)
        loaded.set_text(_("{rows} · columns: {columns}").format(rows=rows, columns=", ".join(table.columns)))
        _show_kept(draft, kept)
        raw_preview.clear()
        with raw_preview:
            text_table(table.columns, table.head(PREVIEW_ROWS))
        on_table()
        await draft.remember(audience=audience_id, phoneColumn=draft.phone_column, template=draft.template)

    with ui.tabs().props("dense mobile-arrows outside-arrows").classes("w-full") as tabs:
        upload_tab = ui.tab("upload", _("Upload a file"), icon="upload_file")
        paste_tab = ui.tab("paste", _("Paste"), icon="content_paste")
        saved_tab = ui.tab("saved", _("Saved audience"), icon="groups")
    with ui.tab_panels(tabs, value=upload_tab).classes("w-full"):
        with ui.tab_panel(upload_tab):
            _upload(draft, take)
        with ui.tab_panel(paste_tab):
            _paste(draft, take)
        with ui.tab_panel(saved_tab):
            saved = await _saved(draft, take)
    tabs.on_value_change(lambda e: saved.refresh() if e.value == "saved" else None)  # as it is now
    return take


def _show_kept(draft: Draft, kept: ui.row) -> None:
    """The audience these recipients are, or a button to save them as one."""
    kept.clear()
    with kept:
        if draft.audience_name:
            ui.icon("groups")
            ui.label(_("Audience: {name}").format(name=draft.audience_name)).mark("audience-kept")
            return

        async def save() -> None:
            saved = await name_and_tags(_("Save as an audience"), draft.audience_id or "", draft.owner)
            if saved is not None:
                draft.audience_name = saved.name
                _show_kept(draft, kept)

        ui.button(_("Save as an audience"), icon="bookmark_add", on_click=save).props("flat").mark(
            "save-audience"
        )


async def _kept_upload(draft: Draft, file_name: str, table: Table, take: Take) -> None:
    audience_id = await attempt(lambda: audiences.keep_upload(draft.owner, file_name, table))
    if audience_id:
        await take(table, audience_id, None)


def _upload(draft: Draft, take: Take) -> None:
    async def uploaded(e: events.UploadEventArguments) -> None:
        table = await attempt(lambda: _read(e.file))
        if table:
            await _kept_upload(draft, e.file.name, table, take)
            rows = ngettext("{n} row", "{n} rows", table.count)
            ui.notify(_("{file}: {rows}").format(file=e.file.name, rows=rows), type="positive")

    Upload(
        on_upload=uploaded,
        auto_upload=True,
        max_file_size=get_settings().max_upload_bytes,  # in the browser: see _read
        on_rejected=lambda: ui.notify(
            _("Files up to {size} MB").format(size=number(get_settings().max_upload_bytes // 2**20)),
            type="warning",
        ),
        label=_("CSV or XLSX"),
    ).props('accept=".csv,.txt,.xlsx" flat bordered').classes("w-full")


def _paste(draft: Draft, take: Take) -> None:
    pasted = ui.textarea(_("Rows"), placeholder=_("phone,name\n+7 999 123-45-67,Anna")).props("outlined")
    pasted.classes("w-full font-mono").mark("paste")

    async def use_pasted() -> None:
        table = await attempt(lambda: _read_text(pasted.value or ""))
        if table:
            await _kept_upload(draft, "", table, take)

    ui.button(_("Use these rows"), on_click=use_pasted).props("outline")


async def _saved(draft: Draft, take: Take) -> ui.refreshable:
    @ui.refreshable
    async def choices() -> None:
        saved = await audiences.saved()
        if not saved:
            empty_state(_("No saved audience yet"), _("Upload a file, then save it as an audience."))
            return
        options = {a.id: audience_label(a) for a in saved}
        chosen = ui.select(options, label=_("Audience"), with_input=True).props("outlined")
        chosen.classes("w-full max-w-xl").mark("audience")

        async def use() -> None:
            audience_id = chosen.value
            if not audience_id:
                ui.notify(_("Choose an audience"), type="warning")
                return
            stored = await attempt(lambda: audiences.table_of(audience_id, draft.owner))
            if stored:
                await take(stored[0], audience_id, stored[1])

        ui.button(_("Use this audience"), on_click=use).props("outline").mark("use-audience")

    await choices()
    return choices


async def _read(file: ui.upload.FileUpload) -> Table:
    """Parsed off the event loop (a million rows take seconds, and other users' pages must stay live),
    from a temporary file, and only up to the recipient limit and max_upload_bytes: the table keeps the
    file's bytes (services/recipient_files/wizard_table.py), so that limit bounds its memory.
    The upload's max_file_size is checked by the browser only: NiceGUI's upload route takes any size
    (up to api.app.BodyLimit for the whole request) into a temporary file, so it is checked here too."""
    most = get_settings().max_upload_bytes
    if file.size() > most:
        raise csv_rows.too_large(say("the file"), most, csv_rows.FEWER_ROWS)
    async with csv_rows.spooled(file.iterate()) as spool:
        return await asyncio.to_thread(wizard_table.from_upload, file.name, spool)


async def _read_text(text: str) -> Table:
    return await asyncio.to_thread(wizard_table.from_csv_text, text)
