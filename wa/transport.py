"""What the rest of the product knows of a transport: one `TransportSpec` per transport (wa/registry.py
lists them), and the `Session` a session-driven transport keeps connected in a worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel

from models import Account, AccountStatus
from settings import Settings
from wa.sender import Sender


class Pairing(StrEnum):
    """How an account of a transport gets ready to send."""

    NONE = "none"  # ready once created
    LINK = "link"  # ready once created by the API; the dashboard pairs it through a link, as a phone would
    DEVICE = "device"  # PAIRING until a phone links the device; it can be logged out and paired again


class SessionEvents(Protocol):
    """What a session reports, for the layer above to record (services/session_events.py does)."""

    async def set_status(
        self, account_id: str, status: AccountStatus, reason: str | None = None, **values: Any
    ) -> None: ...

    async def qr_rotated(self, account_id: str, code: str) -> None: ...

    async def pair_code_issued(self, account_id: str, code: str) -> None: ...

    async def paired(self, account_id: str, device_jid: dict[str, Any], business_name: str) -> None: ...

    async def connected(self, account_id: str, push_name: str | None) -> None: ...

    async def account_lost(self, account_id: str, status: AccountStatus, reason: str) -> Any: ...

    async def receipt(self, network_ids: list[str], kind: str, at: datetime) -> Any: ...

    async def replied(self, account_id: str, sender_phone: str, text: str) -> None: ...


class Session(Protocol):
    """A connection one worker keeps open between sends (the worker's session host holds it)."""

    ended: asyncio.Event  # set when the connection is over, by itself or by `stop`
    connected: bool
    failure: str | None  # why the connection ended by itself, if it did
    sender: Sender

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def log_out(self) -> None:
        """Unlink the device from the phone, then stop."""

    async def pair_phone(self, phone: str) -> None:
        """Ask the network for a code to type on that phone instead of scanning the QR code."""


SenderFactory = Callable[[Account], Sender]
SessionFactory = Callable[[Account, Settings, SessionEvents], Session]
ReconnectCheck = Callable[[Account], Awaitable[bool]]


@dataclass(frozen=True)
class TransportSpec:
    """Everything the product needs to know of a transport. Exactly one of `build_sender` (a task
    drives the account, with a sender built for each drive) and `open_session` (a worker's session
    host keeps a session and drives the account itself) is given."""

    name: str  # stored on the account, at most 16 characters
    label: str  # what the dashboard's Add account dialog offers
    icon: str  # a Material icon for the account's card
    takes_our_ids: bool  # the network sends under our message id and so de-duplicates a repeat
    pairing: Pairing
    config: type[BaseModel] | None = None  # the account's settings for this transport, if it has any
    build_sender: SenderFactory | None = None
    open_session: SessionFactory | None = None
    pairing_help: str = ""  # markdown for the pairing page
    # A task-driven transport whose sends may find an account DISCONNECTED (AccountUnavailable): whether
    # such an account can send again; the health check makes it CONNECTED then. (A session reconnects
    # by itself.) Without it, a DISCONNECTED account of the transport stays so.
    reconnected: ReconnectCheck | None = None

    def __post_init__(self) -> None:
        if (self.build_sender is None) == (self.open_session is None):
            raise ValueError(f"transport {self.name!r}: give build_sender or open_session, not both")
        if not 0 < len(self.name) <= 16:
            raise ValueError(f"transport {self.name!r}: a name of 1 to 16 characters")

    @property
    def task_driven(self) -> bool:
        return self.build_sender is not None
