"""The part of neonize the product uses, and how a client for one account is built.

The surface is kept small (`NeonizeClient`) so that tests can drive the real event handlers through a
fake of it, and so that the real library is imported only where a session is really connected.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from neonize.proto.Neonize_pb2 import JID, IsOnWhatsAppResponse, SendResponse
from neonize.utils.enum import ChatPresence, ChatPresenceMedia

from settings import Settings

QrHandler = Callable[[Any, bytes], Awaitable[None]]
EventHandler = Callable[[Any, Any], Awaitable[None]]

# Connection options of ours (Tortoise's pool) that the Go PostgreSQL driver would reject.
_OUR_URL_OPTIONS = {"maxsize", "minsize", "busy_timeout", "max_inactive_connection_lifetime"}


class NeonizeClient(Protocol):
    """`neonize.aioze.client.NewAClient`, as far as the product uses it."""

    def qr(self, handler: QrHandler) -> None: ...

    def event(self, event_type: type) -> Callable[[EventHandler], None]: ...

    async def connect(self) -> Any: ...

    async def disconnect(self) -> None: ...

    async def logout(self) -> None: ...

    async def PairPhone(self, phone: str, show_push_notification: bool) -> str: ...

    async def send_message(self, to: JID, message: str) -> SendResponse: ...

    async def send_chat_presence(self, jid: JID, state: ChatPresence, media: ChatPresenceMedia) -> None: ...

    async def is_on_whatsapp(self, *numbers: str) -> Sequence[IsOnWhatsAppResponse]: ...


def session_database(s: Settings) -> str:
    """Where whatsmeow keeps its sessions: the product's PostgreSQL database (its tables are prefixed
    `whatsmeow_`), or with SQLite a file of its own beside ours, since two drivers writing one SQLite
    file would lock each other out."""
    url = s.database_url or ""
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in _OUR_URL_OPTIONS]
        if not any(k == "sslmode" for k, _ in query):
            query.append(("sslmode", "disable"))  # lib/pq would insist on TLS, which local servers lack
        return urlunsplit(("postgres", parts.netloc, parts.path, urlencode(query), ""))
    if url.startswith("sqlite://"):
        ours = Path(url.removeprefix("sqlite://").split("?")[0])
        return str(ours.with_name("whatsapp-sessions.sqlite3").resolve())
    return str((s.data_dir / "whatsapp-sessions.sqlite3").resolve())


def jid_of(device_jid: dict[str, Any] | None) -> JID | None:
    return JID(**device_jid) if device_jid else None


def phone_jid(phone: str) -> JID:
    """The chat of a phone number (digits with the country code, as recipients are stored)."""
    return JID(User=phone, Server="s.whatsapp.net", RawAgent=0, Device=0, Integrator=0, IsEmpty=False)


def client_class(s: Settings) -> type:
    module, _, name = s.whatsapp_client.partition(":")
    return getattr(importlib.import_module(module), name)


def build_client(account_id: str, device_jid: dict[str, Any] | None, s: Settings) -> NeonizeClient:
    """A client for one account, not connected. A paired account resumes its stored device; an
    unpaired one asks for a brand-new device, since resuming "the first device" of a store shared by
    many accounts would pick up another account's session."""
    jid = jid_of(device_jid)
    return client_class(s)(session_database(s), jid=jid, uuid=account_id, new_device=jid is None)
