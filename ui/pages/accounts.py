"""Accounts: status, today's sends against the daily cap, the useLimits switch; adding an account and
pairing it by QR code (a phone for WhatsApp, a link for the sandbox) or by a code typed on the phone."""

from __future__ import annotations

import base64

from nicegui import ui

from models import Account, AccountStatus, Transport
from services import accounts, dashboard, qr_image
from ui.frame import attempt, chip, confirm

LIMITS_WARNING = (
    "Without limits, messages leave as fast as WhatsApp answers: no typing, no gaps, no breaks, no "
    "daily cap. Real accounts sending like that are usually banned within hours. Turn limits off only "
    "for sandbox accounts or numbers you are ready to lose."
)


async def accounts_page() -> None:
    with ui.row().classes("w-full items-center"):
        ui.label("Linked WhatsApp accounts and sandbox accounts").classes("text-body2 text-grey-8")
        ui.space()
        ui.button("Add account", icon="add", on_click=lambda: add_dialog.open())
    add_dialog = _add_dialog()

    @ui.refreshable
    async def listing() -> None:
        rows = await dashboard.accounts()
        if not rows:
            ui.label("No account yet: add one to start.").classes("text-grey-7")
        for row in rows:
            _account_card(row, listing)

    await listing()
    ui.timer(3.0, listing.refresh)


def _account_card(row: dashboard.AccountRow, listing: ui.refreshable) -> None:
    a = row.account
    card = ui.card().classes("w-full").props(f"data-account={a.id}")
    with card, ui.row().classes("w-full items-center gap-4"):
        ui.icon("smartphone" if a.transport == Transport.WHATSAPP else "science", size="md")
        with ui.column().classes("gap-0"):
            ui.label(a.name or a.id).classes("text-subtitle1 text-weight-medium")
            ui.label(f"{a.transport} · {a.phone or 'not paired'}").classes("text-caption text-grey-7")
        chip(a.status)
        if a.status_reason:
            ui.label(a.status_reason).classes("text-caption text-grey-8")
        ui.space()
        with ui.column().classes("gap-0 items-end"):
            cap = row.daily_cap if a.use_limits else None
            ui.label(f"{row.sent_today} sent today" + (f" of {cap}" if cap else " (no cap)"))
            if cap:
                ui.linear_progress(min(1.0, row.sent_today / cap), show_value=False).classes("w-40")
        switch = ui.switch("Limits", value=a.use_limits)
        switch.on_value_change(lambda e, a=a: _toggle_limits(a, e.value, e.sender, listing))
        if a.status in (AccountStatus.PAIRING, AccountStatus.LOGGED_OUT, AccountStatus.BANNED):
            ui.button("Pair", on_click=lambda a=a: ui.navigate.to(f"/accounts/{a.id}/pair")).props("outline")
        linked = (AccountStatus.CONNECTED, AccountStatus.DISCONNECTED)
        if a.transport == Transport.WHATSAPP and a.status in linked:
            out = ui.button("Log out", on_click=lambda a=a: _log_out(a, listing))
            out.props("outline color=negative").mark("log-out")


async def _toggle_limits(account: Account, on: bool, switch: ui.switch, listing: ui.refreshable) -> None:
    if on == account.use_limits:
        return
    if not on and not await confirm("Turn limits off?", LIMITS_WARNING, "Turn off", "Keep limits"):
        switch.set_value(True)
        return
    await attempt(
        lambda: accounts.update_account(account.id, use_limits=on), "Limits on" if on else "Limits off"
    )
    listing.refresh()


async def _log_out(account: Account, listing: ui.refreshable) -> None:
    text = "The device leaves the phone's Linked devices and running contracts pause. Pair it again to send."
    if await confirm(
        f"Log {account.name or account.phone} out?", text, "Log out", "Stay linked", "confirm-log-out"
    ):
        await attempt(lambda: accounts.log_out(account.id), "Logged out")
        listing.refresh()


def _add_dialog() -> ui.dialog:
    with ui.dialog() as dialog, ui.card().classes("w-96 gap-3"):
        ui.label("Add account").classes("text-h6")
        name = ui.input("Name", placeholder="e.g. Sales team").props("outlined autofocus").classes("w-full")
        kind = ui.radio(
            {"whatsapp": "WhatsApp (link a phone)", "sandbox": "Sandbox (simulated, for trying)"},
            value="whatsapp",
        )

        async def create() -> None:
            transport = Transport(kind.value)
            account = await attempt(lambda: accounts.create_account(name.value or "", transport))
            if account is None:
                return
            if transport == Transport.SANDBOX:
                base = str(ui.context.client.request.base_url)
                await accounts.pair_sandbox_in_browser(account.id, base)
            dialog.close()
            ui.navigate.to(f"/accounts/{account.id}/pair")

        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat")
            ui.button("Add and pair", on_click=create)
    return dialog


def qr_data_url(account: Account) -> str:
    png = qr_image.render(account, "png").content
    return "data:image/png;base64," + base64.b64encode(png).decode()


async def pairing_page(account_id: str) -> None:
    account = await attempt(lambda: accounts.get_account(account_id))
    if account is None:
        return
    if account.transport == Transport.WHATSAPP and account.status in (
        AccountStatus.LOGGED_OUT,
        AccountStatus.BANNED,
    ):
        await attempt(lambda: accounts.pair_again(account_id))
    ui.label(account.name or account.id).classes("text-subtitle1")
    with ui.row().classes("w-full gap-8 items-start"):
        with ui.card().classes("items-center"):
            image = ui.image().classes("w-72 h-72").props("no-transition fit=contain")
            waiting = ui.spinner(size="xl")
            hint = ui.label().classes("text-caption text-grey-8 w-72")
            link = ui.link("", "#").classes("text-caption break-all w-72")
            link.set_visibility(False)
        with ui.column().classes("gap-3 max-w-md"):
            if account.transport == Transport.WHATSAPP:
                ui.markdown(
                    "**On the phone:** WhatsApp → Settings → **Linked devices** → **Link a device**, "
                    "then scan the code. It changes about every 20 seconds; this page follows it."
                )
                with ui.expansion("Cannot scan? Link with a code instead", icon="dialpad").classes("w-full"):
                    phone = ui.input("The phone's number", placeholder="+7 999 123-45-67").props("outlined")
                    code = ui.label().classes("text-h5 text-primary tracking-widest")

                    async def ask_code() -> None:
                        done = await attempt(lambda: accounts.pair_by_phone(account_id, phone.value or ""))
                        if done:
                            code.set_text("Asking WhatsApp for a code…")

                    ui.button("Get a code", on_click=ask_code).props("outline")
            else:
                ui.markdown(
                    "A **sandbox** account pairs like a phone would: scan the code with any phone "
                    "camera, or open the link under it. Nothing leaves this server."
                )
            status_row = ui.row().classes("items-center")

    shown: dict[str, str | None] = {"qr": None, "status": None}

    async def follow() -> None:
        current = await accounts.get_account(account_id)
        if current.status == AccountStatus.CONNECTED:
            timer.deactivate()
            ui.notify(f"Paired: {current.name or current.phone}", type="positive")
            ui.navigate.to("/accounts")
            return
        if current.status != shown["status"]:
            shown["status"] = current.status
            status_row.clear()
            with status_row:
                chip(current.status)
                if current.status_reason:
                    ui.label(current.status_reason).classes("text-caption")
        if current.qr_code != shown["qr"]:
            shown["qr"] = current.qr_code
            waiting.set_visibility(current.qr_code is None)
            image.set_visibility(current.qr_code is not None)
            if current.qr_code:
                image.set_source(qr_data_url(current))
            is_link = bool(current.qr_code and current.transport == Transport.SANDBOX)
            link.set_visibility(is_link)
            if is_link:
                link.set_text(current.qr_code)
                link.props["href"] = current.qr_code
                link.props["target"] = "_blank"
                link.update()
            hint.set_text("" if current.qr_code else "Waiting for WhatsApp to issue a code…")
        if current.transport == Transport.WHATSAPP and current.pair_code:
            code.set_text(current.pair_code)

    timer = ui.timer(1.0, follow)
    await follow()


async def sandbox_paired(account_id: str, token: str) -> None:
    """What the sandbox's QR link opens (on "the phone"): it completes the simulated pairing."""
    ui.colors(primary="#128C7E")
    with ui.card().classes("absolute-center items-center gap-2"):
        account = await attempt(lambda: accounts.complete_sandbox_pairing(account_id, token))
        if account:
            ui.icon("check_circle", color="positive", size="xl")
            ui.label(f"{account.name or account.id} is paired").classes("text-h6")
            ui.label("You can close this page.").classes("text-caption")
        else:
            ui.icon("link_off", color="negative", size="xl")
            ui.label("This pairing link is not valid any more.").classes("text-h6")
