"""Sign in: with a username and password, or with the API key. A fresh install is claimed here by
its first user, with the setup code printed on the server's console (or the API key); others join
by an invitation link (`/invite/{token}`), choosing their username and password.

The page checks the credentials and gets a one-time ticket; the page POSTs it to `/login/finish`,
which redeems it over plain HTTP and gives the browser a new session cookie, so no cookie from
before sign-in survives it. Signing in and out are POSTs accepted from this site's pages only."""

from __future__ import annotations

import uuid
from urllib.parse import unquote, urlsplit, urlunsplit

from fastapi import Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from nicegui import ui

from services import signin, team, users
from settings import get_settings
from ui.frame import attempt, client_address, language_switch, post_from_page, settle
from ui.i18n import _

KNOWN_BROWSER = "known_browser"  # the cookie holding signin.browser_mark of the last user signed in
KNOWN_BROWSER_MAX_AGE_S = 365 * 24 * 3600


def safe_next(target: str | None) -> str:
    """Only a path of this site, read as a browser reads it: no scheme, no host, one leading "/"
    not followed by another or by "\\" (browsers read `//host`, `///host` and `/\\host` as another
    site), no control characters (browsers drop tabs and newlines, joining what is around them),
    none of these percent-encoded either; anything else is the overview."""
    if not target or not target.startswith("/"):
        return "/"
    decoded = unquote(target)
    if any(ord(c) < 32 or ord(c) == 127 for c in target + decoded) or "\\" in decoded:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or decoded[1:2] == "/" or parts.path[1:2] == "/":
        return "/"
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


def from_this_site(request: Request) -> bool:
    """Whether a browser sent the request from this site's own pages: its Sec-Fetch-Site, else its
    Origin, says so (browsers send one or both with every POST; another site's form or link cannot
    forge them). A client that is no browser sends neither and is no way into a browser's session."""
    fetched_from = request.headers.get("sec-fetch-site")
    if fetched_from is not None:
        return fetched_from == "same-origin"
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host", "")


def _cross_site() -> JSONResponse:
    why = {"field": "Origin", "message": "another site, or no page of this one"}
    return JSONResponse(
        {"error": "refused: sign-in and sign-out come from this site's own pages", "details": [why]},
        status_code=403,
    )


async def finish(request: Request, ticket: str = Form(""), next: str = Form("/")) -> Response:
    """Redeem a sign-in ticket (POSTed by the sign-in page, never a link another site could send a
    browser to): a fresh cookie (new id) holding the new session's token, then where the user was
    going."""
    if not from_this_site(request):
        return _cross_site()
    token = await signin.redeem(ticket)
    who = await signin.session_user(token)
    if token is None or who is None:
        return RedirectResponse("/login", status_code=303)
    request.session.clear()
    request.session.update(id=str(uuid.uuid4()), token=token)
    response = RedirectResponse(safe_next(next), status_code=303)
    s = get_settings()
    response.set_cookie(  # kept past signing out: this browser's attempts as them pass guessers' blocks
        KNOWN_BROWSER,
        signin.browser_mark(who),
        max_age=KNOWN_BROWSER_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=s.session_cookie_secure,
    )
    return response


async def logout(request: Request) -> Response:
    """End the session for good (a copy of the cookie signs nobody in) and drop the cookie: by a POST
    from this site's pages only, so a link elsewhere signs nobody out."""
    if not from_this_site(request):
        return _cross_site()
    await signin.sign_out(request.session.get("token"))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _request_cookie(name: str) -> str | None:
    """A cookie of the request that loaded this page."""
    request = ui.context.client.request
    return request.cookies.get(name) if request is not None else None


async def _go(ticket: str | None, target: str | None) -> None:
    if ticket:
        await post_from_page("/login/finish", {"ticket": ticket, "next": safe_next(target)})


async def login(request: Request, next: str | None = None) -> None:
    await settle(request, None)
    ui.page_title(_("Sign in") + " · WA Contracts")
    ui.colors(primary="#128C7E")
    first_run = await users.first_run()
    with ui.card().classes("absolute-center w-96 gap-3"):
        with ui.row().classes("w-full items-center"):
            ui.label("WA Contracts").classes("text-h5 text-primary")
            ui.space()
            language_switch()
        code = None
        if first_run:
            ui.label(_("Create the first user of this installation.")).classes("text-body2")
            code = ui.input(_("Setup code"), password=True).props("outlined autofocus").classes("w-full")
            code.tooltip(_("Printed in the server's console at start; the API key works too"))
        _password_form(code, next)
        with ui.expansion(_("Sign in with the API key"), icon="key").classes("w-full"):
            key = ui.input(_("API key"), password=True).props("outlined").classes("w-full").mark("api-key")

            async def with_key() -> None:
                await _go(await attempt(lambda: signin.with_key(key.value or "", client_address())), next)

            key.on("keydown.enter", with_key)
            ui.button(_("Sign in with the key"), on_click=with_key).props("outline").classes("w-full")


def _password_form(code: ui.input | None, next: str | None) -> None:
    """Username and password in a real form, named as password managers expect (`code`: the setup
    code of a fresh install, whose first user this creates)."""
    first_run = code is not None
    with ui.element("form").classes("w-full column gap-3").on("submit.prevent", lambda: None):
        username = ui.input(_("Username")).props("outlined name=username autocomplete=username")
        username.classes("w-full").props("" if first_run else "autofocus")
        password = ui.input(_("Password"), password=True, password_toggle_button=True)
        password.props(f"outlined name=password autocomplete={'new' if first_run else 'current'}-password")
        password.classes("w-full")

        async def with_password() -> None:
            user, secret = username.value or "", password.value or ""
            if code is not None:
                ticket = await attempt(lambda: signin.claim(code.value or "", user, secret, client_address()))
            else:
                mark = _request_cookie(KNOWN_BROWSER)
                ticket = await attempt(lambda: signin.with_password(user, secret, client_address(), mark))
            await _go(ticket, next)

        password.on("keydown.enter", with_password)
        go = ui.button(_("Create user and sign in") if first_run else _("Sign in"), on_click=with_password)
        go.props("type=button").classes("w-full")


async def invited(request: Request, token: str) -> None:
    """Join the team by an invitation link: a username and a password, then signed in."""
    await settle(request, None)
    ui.page_title(_("Join the team") + " · WA Contracts")
    ui.colors(primary="#128C7E")
    role = await team.invited_role(token[:100])
    with ui.card().classes("absolute-center w-96 gap-3"):
        with ui.row().classes("w-full items-center"):
            ui.label("WA Contracts").classes("text-h5 text-primary")
            ui.space()
            language_switch()
        if role is None:
            ui.label(_("This invitation is used up, revoked or expired: ask for a new one.")).mark(
                "invite-gone"
            )
            ui.link(_("Sign in"), "/login")
            return
        welcome = {
            users.ADMIN: _(
                "You are invited to join the team as an admin. Choose your username and password."
            ),
            users.OPERATOR: _(
                "You are invited to join the team as an operator. Choose your username and password."
            ),
        }
        ui.label(welcome.get(role, welcome[users.OPERATOR])).classes("text-body2")
        _join_form(token[:100])


def _join_form(token: str) -> None:
    """A username and a new password twice, in a form password managers know."""
    with ui.element("form").classes("w-full column gap-3").on("submit.prevent", lambda: None):
        username = ui.input(_("Username")).props("outlined autofocus name=username autocomplete=username")
        password = ui.input(_("Password"), password=True, password_toggle_button=True)
        again = ui.input(_("The password again"), password=True)
        for field in (password, again):
            field.props("outlined autocomplete=new-password")
        for field in (username, password, again):
            field.classes("w-full")
        go = ui.button(_("Join and sign in")).props("type=button").classes("w-full").mark("join")

    async def join() -> None:
        if (password.value or "") != (again.value or ""):
            ui.notify(_("The two passwords differ"), type="warning")
            return
        user, secret = username.value or "", password.value or ""
        go.disable()  # one attempt at a time from this page
        try:
            await _go(await attempt(lambda: signin.join(token, user, secret, client_address())), "/")
        finally:
            go.enable()

    go.on_click(join)
    again.on("keydown.enter", join)
