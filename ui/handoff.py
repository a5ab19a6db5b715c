"""Files a page makes for its user (the rows the wizard leaves out), fetched once by that user's
browser through a route of their own, `/ui/downloads/{token}`: a file of a million rows does not go
through the page's websocket, nor sit in memory, and nobody else can fetch it.

A user has one such file waiting at most (a new one replaces it), in a private temporary file, for
FETCH_WITHIN_S. It is deleted once fetched; one left unfetched is deleted by the next file made or
fetched after its time, in this process or, after a restart, any other (`wa-download-*`, by age)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fastapi import HTTPException
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from ui.frame import signed_in

FETCH_WITHIN_S = 600
PREFIX = "wa-download-"


@dataclass(frozen=True)
class _Waiting:
    token: str
    path: str
    filename: str
    media_type: str
    until: float


_waiting: dict[str, _Waiting] = {}  # by owner


async def make(owner: str, filename: str, media_type: str, write: Callable[[BinaryIO], None]) -> str:
    """A file for `owner`, written by `write` off the event loop; the address their browser fetches
    it from."""
    _sweep()
    descriptor, path = tempfile.mkstemp(prefix=PREFIX)  # 0600, whatever the umask
    try:
        with open(descriptor, "wb") as file:
            await asyncio.to_thread(write, file)
    except BaseException:
        os.unlink(path)
        raise
    if (previous := _waiting.pop(owner, None)) is not None:
        _delete(previous.path)
    token = secrets.token_urlsafe(24)
    _waiting[owner] = _Waiting(token, path, filename, media_type, time.monotonic() + FETCH_WITHIN_S)
    return f"/ui/downloads/{token}"


async def fetch(token: str) -> FileResponse:
    """The file, once, for the user it was made for; 404 for anyone else, or after."""
    _sweep()
    who = await signed_in()
    waiting = _waiting.get(who) if who is not None else None
    if waiting is None or not secrets.compare_digest(waiting.token, token) or _waiting.pop(who, None) is None:
        raise HTTPException(404, "no such download: it was fetched or has expired")
    return FileResponse(
        waiting.path,
        media_type=waiting.media_type,
        filename=waiting.filename,
        background=BackgroundTask(_delete, waiting.path),
    )


def _sweep() -> None:
    """Forget the files not fetched in time, and delete those left by a process that has gone."""
    now = time.monotonic()
    for owner in [o for o, w in _waiting.items() if w.until < now]:
        _delete(_waiting.pop(owner).path)
    mine = {w.path for w in _waiting.values()}
    for stale in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        with contextlib.suppress(OSError):
            if str(stale) not in mine and stale.stat().st_mtime < time.time() - FETCH_WITHIN_S:
                stale.unlink()


def _delete(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
