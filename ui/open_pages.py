"""A page acts only while the session it was built for lasts. Every event a page sends over its
socket (a click, a value typed, a dialog answered) and every file it uploads is checked against
that session first, here, for every page at once: NiceGUI's socket.io `event` handler and its
upload routes are wrapped, so no page can forget to check.

A page whose session ended (signed out, its user removed, the password changed elsewhere, the
session expired) is sent to sign in, and whatever its browser does with that, the server is done
with it: its client is deleted (its elements and their handlers with it) and its sockets are
closed, so the event that found it out and any after it do nothing. A page whose user now has
another role is rebuilt before it acts again. Pages without a session (sign-in, invitations) are
not checked. Events of one page are checked one at a time, in the order they came, so a value
typed is still set before the click that uses it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote
from weakref import WeakKeyDictionary

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from nicegui import Client, core, ui
from starlette.types import ASGIApp, Receive, Scope, Send

from services import signin

SESSION, PATH = "session", "path"  # the page's session token and path, kept in its client's storage
UPLOAD = re.compile(r"^/_nicegui/client/([^/]+)/upload/")
_one_at_a_time: WeakKeyDictionary[Client, asyncio.Lock] = WeakKeyDictionary()


def follow(token: str | None, path: str) -> None:
    """Tie the page being built, at `path`, to the session `token` (its user and role are in its
    storage: frame.settle)."""
    client = ui.context.client
    client.storage[SESSION], client.storage[PATH] = token or "", path


async def still_current(client: Client) -> bool:
    """Whether the page may act now: its session is current, for the user and role it was built
    for. A page that may not is ended (its session is over) or rebuilt (its role changed)."""
    async with _one_at_a_time.setdefault(client, asyncio.Lock()):
        return await _checked(client)


async def _checked(client: Client) -> bool:
    if client.is_deleted:
        return False
    found = await signin.session(client.storage[SESSION])
    if found == (client.storage.get("who"), client.storage.get("role")):
        return True
    if found is None:
        await _end(client)
    elif not client.is_deleted:
        with client:
            ui.navigate.reload()
    return False


async def _end(client: Client) -> None:
    """Send the page to sign in, then forget it and close its sockets."""
    if client.is_deleted:
        return
    sockets = [sid for sid, _ in core.sio.manager.get_participants("/", client.id)]
    to_sign_in = {"path": f"/login?next={quote(client.storage[PATH])}", "new_tab": False}
    await core.sio.emit("open", to_sign_in, room=client.id)
    client.delete()
    for sid in sockets:
        await core.sio.disconnect(sid)


def install(app: FastAPI) -> None:
    """Check every page's events and uploads (once, when the web app is built)."""
    passed_on: Callable[[str, Any], None] = core.sio.handlers["/"]["event"]

    @core.sio.on("event")
    async def _event(sid: str, message: Any) -> None:
        client = Client.instances.get(message.get("client_id", "")) if isinstance(message, dict) else None
        if client is None or SESSION not in client.storage:
            passed_on(sid, message)
            return
        async with _one_at_a_time.setdefault(client, asyncio.Lock()):
            if await _checked(client):
                passed_on(sid, message)  # within the lock: the next event waits for this one's

    app.add_middleware(_CheckedUploads)


class _CheckedUploads:
    """NiceGUI's upload routes (`/_nicegui/client/{id}/upload/{element}`) run the page's upload
    handlers: for a page whose session ended, a 403 instead."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = UPLOAD.match(scope["path"]) if scope["type"] == "http" else None
        client = Client.instances.get(found[1]) if found else None
        if client is not None and SESSION in client.storage and not await still_current(client):
            refused = {"error": "this page's session has ended: sign in again", "details": []}
            await JSONResponse(refused, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)
