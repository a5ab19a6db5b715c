"""Accounts: status, health, today's sends against the daily cap, the useLimits switch; adding an
account and pairing it by QR code (a phone for WhatsApp, a link for the sandbox) or by a code typed
on the phone."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from nicegui import ui

from models import Account, AccountStatus
from services import account_health, accounts, dashboard, qr_image
from ui.frame import aria, as_admin, attempt, chip, confirm, empty_state, is_admin, settle
from ui.i18n import N_, _, number, percent, stored, tr, when
from wa import registry
from wa.transport import Pairing, TransportSpec

LIMITS_WARNING = N_(
    "Without limits, messages leave as fast as WhatsApp answers: no typing, no gaps, no breaks, no "
    "daily cap. Real accounts sending like that are usually banned within hours. Turn limits off only "
    "for sandbox accounts or numbers you are ready to lose."
)


async def accounts_page() -> None:
    with ui.row().classes("w-full items-center"):
        ui.label(_("Linked WhatsApp accounts and sandbox accounts")).classes("text-body2 text-grey-8")
        ui.space()
        if is_admin():
            add_dialog = _add_dialog()
            ui.button(_("Add account"), icon="add", on_click=add_dialog.open)
        else:
            ui.label(_("Only an admin adds, pairs and changes accounts.")).classes("text-caption text-grey-8")

    @ui.refreshable
    async def listing() -> None:
        rows = await dashboard.accounts()
        if not rows:
            empty_state(_("No account yet"), _("Add one to start: a WhatsApp number, or a sandbox to try."))
        for row in rows:
            _account_card(row, listing)

    await listing()
    ui.timer(3.0, listing.refresh)


def _account_card(row: dashboard.AccountRow, listing: ui.refreshable) -> None:
    a = row.account
    spec = accounts.installed(a)
    card = ui.card().classes("w-full").props(f"data-account={a.id}")
    with card, ui.row().classes("w-full items-center gap-4"):
        ui.icon(spec.icon if spec else "help_outline", size="md")
        with ui.column().classes("gap-0"):
            ui.label(a.name or a.id).classes("text-subtitle1 text-weight-medium")
            ui.label(_transport_line(a, spec)).classes("text-caption text-grey-8")
            _health(row.health)
        chip(a.status)
        if a.status_reason:
            ui.label(stored(a.status_reason)).classes("text-caption text-grey-8")
        ui.space()
        _sent_today(row)
        if spec is None:
            missing = _("transport {name} is not installed").format(name=a.transport)
            ui.label(missing).classes("text-caption text-negative")
        elif is_admin():
            _actions(a, spec, listing)


def _transport_line(a: Account, spec: TransportSpec | None) -> str:
    """What kind of account it is, and its number once it has one (a sandbox account has none)."""
    kind = _(spec.label).split(" (")[0] if spec else a.transport  # "Sandbox (simulated, …)": "Sandbox"
    if a.status == AccountStatus.PAIRING:
        return _("{kind} · not paired yet").format(kind=kind)
    return f"{kind} · {a.phone}" if a.phone and a.phone.isdigit() else kind


def _health(health: account_health.Health) -> None:
    """What the account did over the health window, and the rule that slows it down, if one does (a
    pause shows as its status reason)."""
    f = health.figures
    share = f" ({percent(f.failure_share)})" if f.sends else ""
    ui.label(
        _(
            "since {time}: {sent} sent · {failed} failed{share} · {retried} retried · "
            "{rate_limits} rate limits · {disconnects} disconnects"
        ).format(
            time=when(f.since, with_date=False),
            sent=number(f.sent),
            failed=number(f.failed),
            share=share,
            retried=number(f.retried),
            rate_limits=number(f.rate_limits),
            disconnects=number(f.disconnects),
        )
    ).classes("text-caption text-grey-8")
    if health.slowed:
        slowed = _("slowed down ×{factor}: {why}").format(
            factor=number(health.pace_factor), why=tr(health.slowed)
        )
        ui.label(slowed).classes("text-caption text-warning")


def _sent_today(row: dashboard.AccountRow) -> None:
    with ui.column().classes("gap-0 items-end"):
        cap = row.daily_cap if row.account.use_limits else None
        if cap is None:
            ui.label(_("{sent} sent today (no cap)").format(sent=number(row.sent_today)))
        else:
            left = max(0, cap - row.sent_today)
            today = _("{sent} sent today of {cap} ({left} left)")
            ui.label(today.format(sent=number(row.sent_today), cap=number(cap), left=number(left)))
        if row.account.warmup_plan and row.account.use_limits:
            ui.label(_("warming up")).classes("text-caption text-grey-8")
        if cap:
            ui.linear_progress(min(1.0, row.sent_today / cap), show_value=False).classes("w-40")


def _actions(a: Account, spec: TransportSpec, listing: ui.refreshable) -> None:
    switch = ui.switch(_("Limits"), value=a.use_limits)
    switch.on_value_change(lambda e: _toggle_limits(a, e.value, e.sender, listing))
    ui.button(_("Warm-up"), on_click=lambda: _warmup_dialog(a, listing)).props("flat dense").mark("warm-up")
    if a.status in (AccountStatus.PAIRING, AccountStatus.LOGGED_OUT, AccountStatus.BANNED):
        ui.button(_("Pair"), on_click=lambda: ui.navigate.to(f"/accounts/{a.id}/pair")).props("outline")
    if spec.pairing == Pairing.DEVICE and a.status in accounts.LINKED:
        out = ui.button(_("Log out"), on_click=lambda: _log_out(a, listing))
        out.props("outline color=negative").mark("log-out")
    more = aria(
        ui.button(icon="more_vert").props("flat round dense"), _("More for {name}").format(name=_name(a))
    )
    with more.mark("more"), ui.menu():
        ui.menu_item(_("Rename"), on_click=lambda: _rename(a, listing)).mark("rename")
        ui.menu_item(_("Delete"), on_click=lambda: _delete(a, listing)).mark("delete-account")


def _name(a: Account) -> str:
    return a.name or a.phone or a.id


async def _rename(account: Account, listing: ui.refreshable) -> None:
    with ui.context.client.layout, ui.dialog() as dialog, ui.card().classes("w-96 gap-3"):
        ui.label(_("Rename {name}").format(name=_name(account))).classes("text-h6")
        name = ui.input(_("Name"), value=account.name).props("outlined autofocus").classes("w-full")
        name.mark("new-name").on("keydown.enter", lambda: dialog.submit(True))
        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=lambda: dialog.submit(False)).props("flat")
            ui.button(_("Save"), on_click=lambda: dialog.submit(True)).mark("save-name")
    save, typed = await dialog, name.value or ""
    dialog.delete()
    if save and await as_admin(lambda: accounts.rename(account.id, typed), _("Saved")):
        listing.refresh()


async def _delete(account: Account, listing: ui.refreshable) -> None:
    text = _(
        "It disappears with its history of sends. An account that still has contracts cannot be deleted."
    )
    asked = _("Delete {name}?").format(name=_name(account))
    answers = (_("Delete"), _("Keep it"), "confirm-delete-account")
    await _after_asking(
        asked, text, answers, lambda: accounts.delete_account(account.id), _("Deleted"), listing
    )


async def _after_asking(
    asked: str,
    text: str,
    answers: tuple[str, str, str],
    action: Callable[[], Awaitable[object]],
    done: str,
    listing: ui.refreshable,
) -> None:
    """Do `action` once the user said yes (`answers`: yes, no, the yes button's marker)."""
    if await confirm(asked, text, *answers):
        await as_admin(action, done)
        listing.refresh()


async def _toggle_limits(account: Account, on: bool, switch: ui.switch, listing: ui.refreshable) -> None:
    if on == account.use_limits:
        return
    asked = _("Turn limits off for {name}?").format(name=_name(account))
    if not on and not await confirm(asked, _(LIMITS_WARNING), _("Turn off"), _("Keep limits")):
        switch.set_value(True)
        return
    await as_admin(
        lambda: accounts.update_account(account.id, use_limits=on), _("Limits on") if on else _("Limits off")
    )
    listing.refresh()


def _warmup_dialog(account: Account, listing: ui.refreshable) -> None:
    """Set or clear the account's warm-up plan: a daily cap per day of its age, day 0 first."""
    with ui.context.client.layout, ui.dialog() as dialog, ui.card().classes("w-96 gap-3"):
        ui.label(_("Warm-up plan of {name}").format(name=account.name or account.id)).classes("text-h6")
        ui.label(
            _(
                "The daily cap for each day of the account's age, from its first day, separated by "
                "commas. After the last day the usual cap by age applies. Leave empty for no plan."
            )
        ).classes("text-body2")
        plan = ui.input(_("Daily caps"), value=", ".join(map(str, account.warmup_plan or [])))
        plan.props("outlined placeholder='20, 40, 80, 160, 320'").classes("w-full")

        async def save() -> None:
            caps = _caps(plan.value or "")
            if caps is None:
                ui.notify(_("Daily caps: whole numbers separated by commas"), type="warning")
                return
            if await as_admin(lambda: accounts.update_account(account.id, warmup_plan=caps), _("Saved")):
                dialog.close()
                listing.refresh()

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat")
            ui.button(_("Save"), on_click=save)
    dialog.open()


def _caps(text: str) -> list[int] | None:
    """The caps typed, or None if something typed is not a number of 0 to 10,000."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if not all(p.isdigit() and int(p) <= 10_000 for p in parts) or len(parts) > 365:
        return None
    return [int(p) for p in parts]


async def _log_out(account: Account, listing: ui.refreshable) -> None:
    text = _(
        "The device leaves the phone's Linked devices and running contracts pause. Pair it again to send."
    )
    asked = _("Log {name} out?").format(name=_name(account))
    answers = (_("Log out"), _("Stay linked"), "confirm-log-out")
    await _after_asking(asked, text, answers, lambda: accounts.log_out(account.id), _("Logged out"), listing)


def _add_dialog() -> ui.dialog:
    with ui.dialog() as dialog, ui.card().classes("w-96 gap-3"):
        ui.label(_("Add account")).classes("text-h6")
        name = (
            ui.input(_("Name"), placeholder=_("e.g. Sales team"))
            .props("outlined autofocus")
            .classes("w-full")
        )
        choices = {spec.name: _(spec.label) for spec in registry.transports()}
        kind = ui.radio(choices, value="whatsapp")

        async def create() -> None:
            if not (name.value or "").strip():
                name.props["error"], name.props["error-message"] = True, _("Name the account")
                name.update()
                return
            base = str(ui.context.client.request.base_url)
            account = await as_admin(lambda: accounts.add_in_dashboard(name.value or "", kind.value, base))
            if account is None:
                return
            dialog.close()
            pairs = accounts.transport_of(account.transport).pairing != Pairing.NONE
            ui.navigate.to(f"/accounts/{account.id}/pair" if pairs else "/accounts")

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat")
            ui.button(_("Add and pair"), on_click=create)
    return dialog


def qr_data_url(account: Account) -> str:
    png = qr_image.render(account, "png").content
    return "data:image/png;base64," + base64.b64encode(png).decode()


@dataclass
class CodePanel:
    """Where the pairing page shows the code to scan, and what it showed last."""

    image: ui.image
    waiting: ui.spinner
    hint: ui.label
    link: ui.link
    status_row: ui.row
    pair_code: ui.label | None = None
    shown_qr: str | None = None
    shown_status: str | None = None
    shown_failed: bool = False


async def pairing_page(account_id: str) -> None:
    base = str(ui.context.client.request.base_url)
    account = await as_admin(lambda: accounts.open_pairing(account_id, base))
    if account is None:
        return
    spec = accounts.transport_of(account.transport)
    ui.label(_name(account)).classes("text-subtitle1")
    with ui.row().classes("w-full gap-8 items-start"):
        with ui.card().classes("items-center"):
            image = ui.image().classes("w-72 h-72").props("no-transition fit=contain")
            waiting = ui.spinner(size="xl")
            hint = ui.label().classes("text-caption text-grey-8 w-72")
            link = ui.link("", "#").classes("text-caption break-all w-72")
            link.set_visibility(False)
        with ui.column().classes("gap-3 max-w-md"):
            ui.markdown(_(spec.pairing_help))
            pair_code = _pair_by_code(account_id) if spec.pairing == Pairing.DEVICE else None
            status_row = ui.row().classes("items-center")
    panel = CodePanel(image, waiting, hint, link, status_row, pair_code)

    async def follow() -> None:
        current = await accounts.get_account(account_id)
        if current.status == AccountStatus.CONNECTED:
            timer.deactivate()
            ui.notify(_("Paired: {name}").format(name=current.name or current.phone), type="positive")
            ui.navigate.to("/accounts")
            return
        _show(panel, current, is_link=spec.pairing == Pairing.LINK)

    timer = ui.timer(1.0, follow)
    await follow()


def _pair_by_code(account_id: str) -> ui.label:
    """The other way to link a phone: a code typed on it. Returns where the code appears."""
    with ui.expansion(_("Cannot scan? Link with a code instead"), icon="dialpad").classes("w-full"):
        phone = ui.input(_("The phone's number"), placeholder="+7 999 123-45-67").props("outlined")
        code = ui.label().classes("text-h5 text-primary tracking-widest")

        async def ask_code() -> None:
            if await as_admin(lambda: accounts.pair_by_phone(account_id, phone.value or "")):
                code.set_text(_("Asking WhatsApp for a code…"))

        ui.button(_("Get a code"), on_click=ask_code).props("outline")
    return code


def _show(panel: CodePanel, current: Account, is_link: bool) -> None:
    """Bring the panel up to date with the account: its status, the code to scan, the code to type;
    a pairing that failed (WhatsApp not reached) in plain words, with Retry."""
    failed = not is_link and current.status == AccountStatus.DISCONNECTED and current.device_jid is None
    if current.status != panel.shown_status:
        panel.shown_status = current.status
        panel.status_row.clear()
        with panel.status_row, ui.column().classes("gap-1"):
            chip(current.status)
            if failed:
                _pairing_failed(current)
            elif current.status_reason:
                ui.label(stored(current.status_reason)).classes("text-caption")
    if failed != panel.shown_failed:
        panel.shown_failed, panel.shown_qr = failed, None
        panel.waiting.set_visibility(not failed)
        panel.image.set_visibility(False)
        panel.hint.set_text(_("No code: WhatsApp was not reached.") if failed else "")
    if not failed and current.qr_code != panel.shown_qr:
        panel.shown_qr = current.qr_code
        panel.waiting.set_visibility(current.qr_code is None)
        panel.image.set_visibility(current.qr_code is not None)
        if current.qr_code:
            panel.image.set_source(qr_data_url(current))
        panel.link.set_visibility(bool(current.qr_code and is_link))
        if current.qr_code and is_link:
            panel.link.set_text(current.qr_code)
            panel.link.props["href"] = current.qr_code
            panel.link.props["target"] = "_blank"
            panel.link.update()
        panel.hint.set_text("" if current.qr_code else _("Waiting for WhatsApp to issue a code…"))
    if panel.pair_code is not None and current.pair_code:
        panel.pair_code.set_text(current.pair_code)


def _pairing_failed(account: Account) -> None:
    ui.label(
        _(
            "This server could not reach WhatsApp, so there is no code to scan. Check that it is "
            "connected to the internet, then try again, or link with a code instead."
        )
    ).classes("text-body2")
    if account.status_reason:
        ui.label(_("Details: {reason}").format(reason=stored(account.status_reason))).classes(
            "text-caption text-grey-8"
        )

    async def retry() -> None:
        await as_admin(lambda: accounts.pair_again(account.id), _("Trying again…"))

    ui.button(_("Retry"), icon="refresh", on_click=retry).mark("retry-pairing")


async def sandbox_paired(request: Request, account_id: str, token: str) -> None:
    """What the sandbox's QR link opens (on "the phone"): it completes the simulated pairing."""
    await settle(request, None)
    ui.page_title(_("Pairing") + " · WA Contracts")
    ui.colors(primary="#128C7E")
    with ui.card().classes("absolute-center items-center gap-2"):
        account = await attempt(lambda: accounts.complete_pairing_by_link(account_id, token))
        if account:
            ui.icon("check_circle", color="positive", size="xl")
            ui.label(_("{name} is paired").format(name=account.name or account.id)).classes("text-h6")
            ui.label(_("You can close this page.")).classes("text-caption")
        else:
            ui.icon("link_off", color="negative", size="xl")
            ui.label(_("This pairing link is not valid any more.")).classes("text-h6")
