"""What every transport's sender does (show typing, send, close), and the errors a send may raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from models.enums import AccountStatus
from texts import say


class SendError(Exception):
    """A send did not happen. Subclasses say whether trying again can help."""


class TransientSendError(SendError):
    """Timeouts, disconnects: the same message may be retried later with the same id."""


class PermanentSendError(SendError):
    """Invalid number and the like: retrying cannot help."""


class NotOnWhatsApp(PermanentSendError):
    """The number has no WhatsApp account; the recipient is skipped, not counted as a send."""

    def __init__(self, phone: str) -> None:
        super().__init__(say("{phone:s} is not on WhatsApp", phone=phone))  # :s, a number kept as it is


class AccountUnavailable(SendError):
    """The account itself cannot send now (logged out, banned, rate-limited by WhatsApp): its
    contracts pause with this reason instead of burning the recipients' attempts."""

    def __init__(self, status: AccountStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Sender(Protocol):
    """One account's way to send: built for a drive (task-driven transports) or held by a session."""

    async def show_typing(self, phone: str, seconds: float) -> None:
        """Show "typing…" to the recipient for about `seconds` (the caller waits that long)."""

    async def send(self, phone: str, text: str, message_id: str, attempt: int) -> str | None:
        """Deliver `text` under `message_id`, where the network lets the caller choose the id (then a
        repeat of a delivered id does not deliver again, and None is returned); otherwise the id the
        network gave the message."""

    async def close(self) -> None:
        """Release the connection."""


@dataclass(frozen=True)
class Message:
    phone: str
    text: str
    message_id: str
    attempt: int


@runtime_checkable
class BatchSender(Protocol):
    """A network that can take a batch at once (the sandbox): each message is delivered under its own
    id exactly as `send` would, and the network's bookkeeping is done once for the batch."""

    async def send_many(self, messages: list[Message]) -> list[SendError | None]:
        """For each message in order, the error that stopped it, or None once it is delivered."""
