"""What every dashboard page shares: sign-in required, the header with the menu, status chips, times
typed in the browser's local time, and how errors of the services are shown (a notification with the
reason, never a stack trace)."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from services import signin
from services.errors import ServiceError

log = logging.getLogger(__name__)

PageBuilder = Callable[..., Awaitable[None]]

STATUS_COLORS = {
    # accounts
    "CONNECTED": "positive",
    "PAIRING": "info",
    "DISCONNECTED": "warning",
    "LOGGED_OUT": "negative",
    "BANNED": "negative",
    # contracts
    "PENDING": "grey-7",
    "QUEUED": "info",
    "IN_PROGRESS": "primary",
    "PAUSED": "warning",
    "COMPLETED": "positive",
    "FAILED": "negative",
    "CANCELLED": "grey-7",
    # recipients
    "SENDING": "primary",
    "SENT": "positive",
    "SKIPPED": "grey-7",
}


async def signed_in() -> str | None:
    """Who this browser is signed in as: its session cookie's token, if the session is current
    (set only by ui/login.py: finish; signing out deletes the session)."""
    return await signin.session_user(app.storage.browser.get("token"))


def page(path: str, title: str) -> Callable[[PageBuilder], PageBuilder]:
    """Register `builder` as a page for signed-in users; others go to the sign-in page and back."""

    def register(builder: PageBuilder) -> PageBuilder:
        @functools.wraps(builder)
        async def guarded(request: Request, **kwargs: Any) -> RedirectResponse | None:
            who = await signed_in()
            if not who:
                return RedirectResponse(f"/login?next={quote(request.url.path)}")
            with frame(title, who):
                await builder(**kwargs)
            return None

        guarded.__signature__ = _with_request(builder)  # type: ignore[attr-defined]
        ui.page(path, title=f"{title} · WA Contracts")(guarded)
        return builder

    return register


def _with_request(builder: PageBuilder) -> Any:
    signature = inspect.signature(builder)
    request = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)
    return signature.replace(parameters=[*signature.parameters.values(), request])


@contextmanager
def frame(title: str, who: str) -> Iterator[None]:
    ui.colors(primary="#128C7E", secondary="#075E54", accent="#25D366")
    with ui.header().classes("items-center gap-6 px-6"):
        ui.link("WA Contracts", "/").classes("text-h6 text-white no-underline")
        for label, target in (
            ("Overview", "/"),
            ("Accounts", "/accounts"),
            ("New contract", "/contracts/new"),
        ):
            ui.link(label, target).classes("text-white no-underline")
        ui.space()
        ui.link("API", "/docs").classes("text-white no-underline")
        ui.label(who).classes("text-caption")
        ui.button(icon="logout", on_click=sign_out).props("flat round color=white").tooltip("Sign out")
    with ui.column().classes("w-full max-w-6xl mx-auto p-4 gap-4"):
        ui.label(title).classes("text-h5")
        yield


def sign_out() -> None:
    ui.navigate.to("/logout")


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
    dialog.delete()
    return bool(answer)


async def browser_time(value: str) -> datetime:
    """A datetime-local input's value, in the browser's local time, as UTC (the browser says its
    offset from UTC at that moment)."""
    local = datetime.fromisoformat(value).replace(tzinfo=None)
    offset_min = await ui.run_javascript(f"new Date({local.isoformat()!r}).getTimezoneOffset()")
    return datetime.fromtimestamp(local.replace(tzinfo=UTC).timestamp() + 60 * float(offset_min), UTC)


def chip(status: str) -> ui.chip:
    """A status as a coloured chip (text, never HTML)."""
    return ui.chip(status.replace("_", " ").lower(), color=STATUS_COLORS.get(status, "grey-7")).props(
        "text-color=white dense"
    )


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


def show_failure(exc: Exception) -> None:
    """A service's refusal as its reason and first problems; anything else as a fault of ours (its
    details belong in the server log, not in front of the user)."""
    if not isinstance(exc, ServiceError):
        ui.notify("Something went wrong on our side; the details are in the server log.", type="negative")
        return
    details = "; ".join(
        f"{'row ' + str(p.index + 1) + ': ' if p.index is not None else ''}{p.field}: {p.message}"
        for p in exc.problems[:5]
    )
    ui.notify(f"{exc.message}{' — ' + details if details else ''}", type="negative", multi_line=True)
