"""Files a page makes for its user (the rows the wizard leaves out), fetched once by that user's
browser through a route of their own, `/ui/downloads/{token}`: a file of a million rows does not go
through the page's websocket, nor sit in memory, and nobody else can fetch it.

A file waits in a private temporary file for FETCH_WITHIN_S; it is deleted once fetched, or then."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from fastapi import HTTPException
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from ui.frame import signed_in

FETCH_WITHIN_S = 600
MAX_WAITING = 100  # files made and not fetched yet, in all


@dataclass(frozen=True)
class _Waiting:
    owner: str
    path: str
    filename: str
    media_type: str
    until: float


_waiting: dict[str, _Waiting] = {}


async def make(owner: str, filename: str, media_type: str, write: Callable[[BinaryIO], None]) -> str:
    """A file for `owner`, written by `write` off the event loop; the address their browser fetches
    it from."""
    _forget_expired()
    while len(_waiting) >= MAX_WAITING:
        _drop(next(iter(_waiting)))
    descriptor, path = tempfile.mkstemp(prefix="wa-download-")  # 0600, whatever the umask
    try:
        with open(descriptor, "wb") as file:
            await asyncio.to_thread(write, file)
    except BaseException:
        os.unlink(path)
        raise
    token = secrets.token_urlsafe(24)
    _waiting[token] = _Waiting(owner, path, filename, media_type, time.monotonic() + FETCH_WITHIN_S)
    return f"/ui/downloads/{token}"


async def fetch(token: str) -> FileResponse:
    """The file, once, for the user it was made for; 404 for anyone else, or after."""
    _forget_expired()
    waiting = _waiting.get(token)
    if waiting is None or await signed_in() != waiting.owner:
        raise HTTPException(404, "no such download: it was fetched or has expired")
    del _waiting[token]
    return FileResponse(
        waiting.path,
        media_type=waiting.media_type,
        filename=waiting.filename,
        background=BackgroundTask(os.unlink, waiting.path),
    )


def _forget_expired() -> None:
    now = time.monotonic()
    for token in [t for t, w in _waiting.items() if w.until < now]:
        _drop(token)


def _drop(token: str) -> None:
    waiting = _waiting.pop(token)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(waiting.path)
