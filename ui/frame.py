"""What every dashboard page shares: sign-in required, the header with the menu, status chips, times
typed in the browser's local time, and how errors of the services are shown (a notification with the
reason, never a stack trace)."""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui
from nicegui.events import ValueChangeEventArguments

from services import signin, team, timezones, users
from services.errors import InvalidInput, Problem, ServiceError
from ui import i18n, open_pages
from ui.i18n import N_, _, tr

log = logging.getLogger(__name__)

PageBuilder = Callable[..., Awaitable[None]]
SESSION_CHECK_S = 10.0

# Status chips: white text on each colour at WCAG AA's 4.5:1 or better (tests/test_i18n.py checks).
GREEN, BLUE, ORANGE, RED, TEAL, GREY = "#2E7D32", "#1565C0", "#B45309", "#C62828", "#00695C", "#616161"
STATUS_COLORS = {
    # accounts
    "CONNECTED": GREEN,
    "PAIRING": BLUE,
    "DISCONNECTED": ORANGE,
    "LOGGED_OUT": RED,
    "BANNED": RED,
    # contracts
    "PENDING": GREY,
    "QUEUED": BLUE,
    "IN_PROGRESS": TEAL,
    "PAUSED": ORANGE,
    "COMPLETED": GREEN,
    "FAILED": RED,
    "CANCELLED": GREY,
    # recipients
    "SENDING": TEAL,
    "SENT": GREEN,
    "SKIPPED": GREY,
}
THEMES: dict[str, bool | None] = {"auto": None, "light": False, "dark": True}  # None: as the system
# Grey text for light pages is too dark on dark ones: lighter there, at AA contrast on #121212.
DARK_CSS = "body.body--dark .text-grey-7, body.body--dark .text-grey-8 { color: #BDBDBD !important; }"
STATUS_NAMES = {
    "CONNECTED": N_("connected"),
    "PAIRING": N_("pairing"),
    "DISCONNECTED": N_("disconnected"),
    "LOGGED_OUT": N_("logged out"),
    "BANNED": N_("banned"),
    "PENDING": N_("pending"),
    "QUEUED": N_("queued"),
    "IN_PROGRESS": N_("in progress"),
    "PAUSED": N_("paused"),
    "COMPLETED": N_("completed"),
    "FAILED": N_("failed"),
    "CANCELLED": N_("cancelled"),
    "SENDING": N_("sending"),
    "SENT": N_("sent"),
    "SKIPPED": N_("skipped"),
}


# Every page tells the server the browser's time zone in a cookie (read by user_zone).
ZONE_COOKIE = "tz"
ZONE_SCRIPT = (
    "<script>document.cookie = 'tz=' + encodeURIComponent("
    "Intl.DateTimeFormat().resolvedOptions().timeZone) + '; path=/; SameSite=Lax';</script>"
)


def browser_zone(request: Request) -> ZoneInfo:
    """The browser's time zone, as its cookie says; UTC if it says nothing usable."""
    try:
        return timezones.shown_in(unquote(request.cookies.get(ZONE_COOKIE, "")[:200])[:64])
    except InvalidInput:
        return timezones.shown_in(None)


async def user_zone(request: Request, who: str) -> ZoneInfo:
    """The zone the user sees times in: the one they chose, else the browser's."""
    return _zone_of(request, (await users.preferences(who))[1])


def _zone_of(request: Request, chosen: str | None) -> ZoneInfo:
    return timezones.shown_in(chosen) if chosen else browser_zone(request)


async def settle(request: Request, who: str | None, role: str | None = None) -> None:
    """Fix the language and time zone the page being built speaks (ui/i18n.py), and name its
    language in `<html lang>` (for screen readers) and to Quasar (its own few texts); remember
    who the page is for (`page_user`), with their role."""
    language, chosen_zone = await users.preferences(who) if who else (None, None)
    client = ui.context.client
    client.storage["who"], client.storage["role"] = who, role
    client.storage["chosen_zone"] = chosen_zone or ""
    client.storage["language"] = i18n.negotiate(
        language, request.cookies.get(i18n.LANGUAGE_COOKIE), request.headers.get("accept-language")
    )
    client.storage["zone"] = _zone_of(request, chosen_zone)
    client.page = copy.copy(client.page)  # the page object is shared by every client of the path
    client.page.language = "ru" if client.storage["language"] == "ru" else "en-US"
    ui.add_head_html(ZONE_SCRIPT)


async def signed_in() -> str | None:
    """Who this browser is signed in as: its session cookie's token, if the session is current
    (set only by ui/login.py: finish; signing out deletes the session)."""
    return await signin.session_user(app.storage.browser.get("token"))


def page_user() -> str:
    """Who the page being built (or this client's page) is for, as its sign-in was checked then."""
    return ui.context.client.storage.get("who") or ""


def is_admin() -> bool:
    """Whether the user of the page being built (or of this client) is an admin (services/team.py)."""
    return ui.context.client.storage.get("role") == users.ADMIN


def page(path: str, title: str, admins_only: bool = False) -> Callable[[PageBuilder], PageBuilder]:
    """Register `builder` as a page for signed-in users (admins only, if so); others go to the
    sign-in page and back."""

    def register(builder: PageBuilder) -> PageBuilder:
        @functools.wraps(builder)
        async def guarded(request: Request, **kwargs: Any) -> RedirectResponse | None:
            token = app.storage.browser.get("token")
            found = await signin.session(token)
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if not found:
                return RedirectResponse(f"/login?next={quote(here)}")
            who, role = found
            await settle(request, who, role)
            open_pages.follow(token, here)
            ui.page_title(_(title) + " · WA Contracts")
            with frame(_(title), who):
                if admins_only and not is_admin():
                    empty_state(_("Only an admin can open this page"), _("Ask an admin of your team."))
                else:
                    await builder(**kwargs)
            return None

        guarded.__signature__ = _with_request(builder)  # type: ignore[attr-defined]
        ui.page(path)(guarded)
        return builder

    return register


def _with_request(builder: PageBuilder) -> Any:
    signature = inspect.signature(builder)
    request = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)
    return signature.replace(parameters=[*signature.parameters.values(), request])


@contextmanager
def frame(title: str, who: str) -> Iterator[None]:
    ui.colors(primary="#128C7E", secondary="#075E54", accent="#25D366")
    theme = ui.dark_mode(THEMES.get(app.storage.user.get("theme")))  # remembered on this browser
    ui.add_css(DARK_CSS)
    places = [
        (_("Overview"), "/"),
        (_("Accounts"), "/accounts"),
        (_("Audiences"), "/audiences"),
        (_("New contract"), "/contracts/new"),
    ]
    if is_admin():
        places.append((_("Team"), "/team"))
    with ui.header().classes("items-center gap-x-6 gap-y-0 px-4 no-wrap"):
        menu = ui.button(icon="menu").props("flat round color=white").classes("lt-md").mark("menu")
        with aria(menu, _("Menu")), ui.menu():  # narrow screens (a phone): the places in a menu
            for label, target in places:
                ui.menu_item(label, on_click=lambda target=target: ui.navigate.to(target))
        ui.link("WA Contracts", "/").classes("text-h6 text-white no-underline whitespace-nowrap")
        for label, target in places:
            ui.link(label, target).classes("text-white no-underline gt-sm")
        ui.space()
        ui.link("API", "/docs").classes("text-white no-underline gt-sm")
        _preferences(who, theme)
        out = ui.button(icon="logout", on_click=sign_out).props("flat round color=white").mark("sign-out")
        aria(out, _("Sign out")).tooltip(_("Sign out"))
    with ui.column().classes("w-full max-w-6xl mx-auto p-4 gap-4"):
        ui.label(title).classes("text-h5")
        yield
    # A page left open, not used, also goes to sign in (or is rebuilt) once its session ends (or
    # its role changes): what it shows is then theirs no more. Its events are checked as they come.
    ui.timer(SESSION_CHECK_S, functools.partial(open_pages.still_current, ui.context.client))


def _preferences(who: str, theme: ui.dark_mode) -> None:
    """The user's menu: the language and the time zone, remembered for them; light or dark, for
    this browser."""
    menu = ui.button(icon="person").props("flat no-caps color=white").mark("preferences")
    aria(menu, _("Settings of {name}").format(name=person(who)))
    with menu:
        ui.label(person(who)).classes("gt-xs q-ml-sm")
    with menu, ui.menu(), ui.card().classes("gap-2"):
        language_switch(who)

        def chosen(e: ValueChangeEventArguments) -> None:
            app.storage.user["theme"] = e.value
            theme.set_value(THEMES[e.value])

        names = {"auto": _("As the system"), "light": _("Light"), "dark": _("Dark")}
        ui.toggle(names, value=app.storage.user.get("theme", "auto"), on_change=chosen).mark("theme")
        change = ui.button(_("Change password"), icon="password", on_click=lambda: _change_password(who))
        change.props("flat dense no-caps").mark("change-password")
        browser = browser_zone(ui.context.client.request).key
        zones = {"": _("The browser's ({zone})").format(zone=browser)} | {z: z for z in timezones.names()}
        ui.select(
            zones,
            label=_("Time zone"),
            value=ui.context.client.storage["chosen_zone"],
            with_input=True,
            on_change=lambda e: _choose(who, time_zone=e.value),
        ).classes("w-64").mark("time-zone")


async def _change_password(who: str) -> None:
    """The current password and the new one twice, in a form password managers know; the user's
    other sessions end."""
    with ui.context.client.layout, ui.dialog() as dialog, ui.card().classes("w-96 gap-2"):
        ui.label(_("Change password")).classes("text-h6")
        with ui.element("form").classes("w-full column gap-2").on("submit.prevent", lambda: None):
            fields = [
                ui.input(label, password=True).props(f"outlined autocomplete={kind}").classes("w-full")
                for label, kind in (
                    (_("Current password"), "current-password"),
                    (_("New password"), "new-password"),
                    (_("The new password again"), "new-password"),
                )
            ]
        for field, marker in zip(
            fields, ("current-password", "new-password", "new-password-again"), strict=True
        ):
            field.mark(marker)
        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=lambda: dialog.submit(False)).props("flat type=button")
            ui.button(_("Save"), on_click=lambda: dialog.submit(True)).props("type=button").mark(
                "save-password"
            )
    save = await dialog
    current, new, again = (f.value or "" for f in fields)
    dialog.delete()
    if not save:
        return
    if new != again:
        ui.notify(_("The two new passwords differ"), type="warning")
        return
    token, address = app.storage.browser.get("token"), client_address()
    await attempt(lambda: signin.change_password(who, current, new, token, address), _("Password changed"))


def client_address() -> str:
    """The address of the browser of this page (as uvicorn gives it: after FORWARDED_ALLOW_IPS)."""
    request = ui.context.client.request
    return request.client.host if request and request.client else "unknown"


def person(username: str) -> str:
    """A user as the page names them (whoever signed in with the API key has no name of their own)."""
    return _(users.KEY_USER) if username == users.KEY_USER else username


def language_switch(who: str | None = None) -> ui.toggle:
    """English / Русский: remembered for the user if signed in, and on this browser."""
    switch = ui.toggle(i18n.NAMES, value=i18n.language(), on_change=lambda e: _choose(who, language=e.value))
    return switch.mark("language")


async def _choose(who: str | None, language: str | None = None, time_zone: str | None = None) -> None:
    try:
        if who is not None:
            await users.choose(who, language, time_zone)
    except ServiceError as exc:
        show_failure(exc)
        return
    if language in i18n.NAMES:  # also before signing in next time, on this browser
        cookie = f"{i18n.LANGUAGE_COOKIE}={language}; path=/; max-age=31536000; SameSite=Lax"
        await ui.run_javascript(f"document.cookie = {cookie!r}")
    ui.navigate.reload()


async def sign_out() -> None:
    await post_from_page("/logout", {})


async def post_from_page(path: str, fields: dict[str, str]) -> None:
    """Send the browser to `path` by a form POST with `fields`, as a form of this page would: what
    changes the session is never a GET, and `path` sees this site as the request's origin. (The
    browser may leave before it answers that it ran the script.)"""
    with contextlib.suppress(TimeoutError):
        await ui.run_javascript(
            "const form = Object.assign(document.createElement('form'), "
            f"{{method: 'post', action: {json.dumps(path)}}});"
            f"for (const [name, value] of Object.entries({json.dumps(fields)})) "
            "form.append(Object.assign(document.createElement('input'), {type: 'hidden', name, value}));"
            "document.body.append(form); form.submit();"
        )


async def confirm(title: str, text: str, yes: str, no: str, marker: str | None = None) -> bool:
    """Ask before an action that is hard to undo. The dialog hangs from the page itself, not from the
    element that asked, which a live refresh may rebuild while the dialog is open."""
    with ui.context.client.layout, ui.dialog() as dialog, ui.card().classes("w-96"):
        ui.label(title).classes("text-h6")
        ui.label(text).classes("text-body2")
        with ui.row().classes("w-full justify-end"):
            ui.button(no, on_click=lambda: dialog.submit(False)).props("flat")
            ui.button(yes, color="negative", on_click=lambda: dialog.submit(True)).mark(marker or "confirm")
    answer = await dialog
    if not dialog.client.is_deleted:  # closed with the page (the tab went away): gone already
        dialog.delete()
    return bool(answer)


E = TypeVar("E", bound=ui.element)


def aria(element: E, label: str) -> E:
    """Name a control for screen readers (an icon button reads as its icon's name otherwise)."""
    element.props["aria-label"] = label
    return element


def status_name(status: str) -> str:
    """A status as the page's language names it."""
    return _(STATUS_NAMES[status]) if status in STATUS_NAMES else status.replace("_", " ").lower()


def chip(status: str) -> ui.chip:
    """A status as a coloured chip (text, never HTML)."""
    return ui.chip(status_name(status), color=STATUS_COLORS.get(status, GREY)).props("text-color=white dense")


def text_table(columns: list[str], rows: list[list[str]]) -> ui.table:
    """A small table of text (cells are escaped as text, never read as HTML)."""
    keys = [f"c{i}" for i in range(len(columns))]
    return (
        ui.table(
            columns=[
                {"name": k, "label": c, "field": k, "align": "left"}
                for k, c in zip(keys, columns, strict=True)
            ],
            rows=[
                {"_row": i, **{k: (r[j] if j < len(r) else "") for j, k in enumerate(keys)}}
                for i, r in enumerate(rows)
            ],
            row_key="_row",
        )
        .props("dense flat bordered wrap-cells")
        .classes("w-full")
    )


def empty_state(title: str, hint: str = "") -> None:
    """Where a list has nothing yet: what is missing and how to add it, calmly."""
    with ui.column().classes("w-full items-center py-6 gap-1 text-grey-8"):
        ui.icon("inbox", size="lg")
        ui.label(title).classes("text-subtitle1")
        if hint:
            ui.label(hint).classes("text-caption")


async def attempt(action: Callable[[], Awaitable[Any]], done: str | None = None) -> Any:
    """Run a service call for a button: its refusal is a notification with the reason (and the
    problems, row by row), never a stack trace; None when it was refused."""
    try:
        result = await action()
    except ServiceError as exc:
        show_failure(exc)
        return None
    except Exception as exc:
        log.exception("dashboard action failed")
        show_failure(exc)
        return None
    if done:
        ui.notify(done, type="positive")
    return result


async def as_admin(action: Callable[[], Awaitable[Any]], done: str | None = None) -> Any:
    """`attempt` for what only an admin may do, their role checked as they do it: a page built for an
    admin checks their role as each event comes (ui/open_pages.py), but an action may follow later,
    after a dialog was answered."""

    async def checked() -> Any:
        await team.require_admin(await signed_in() or "")
        return await action()

    return await attempt(checked, done)


def show_failure(exc: Exception) -> None:
    """A service's refusal as its reason and first problems, in the page's language; anything else
    as a fault of ours (its details belong in the server log, not in front of the user)."""
    if not isinstance(exc, ServiceError):
        ui.notify(_("Something went wrong on our side; the details are in the server log."), type="negative")
        return
    details = "; ".join(_problem(p) for p in exc.problems[:5])
    ui.notify(tr(exc.message) + (" — " + details if details else ""), type="negative", multi_line=True)


def _problem(p: Problem) -> str:
    if p.index is None:
        return tr(p.message)
    return _("row {n}: {problem}").format(n=p.index + 1, problem=tr(p.message))
