"""The transport interface every account's connection implements, and the errors it may raise."""

from __future__ import annotations

from typing import Protocol


class SendError(Exception):
    """A send did not happen. Subclasses say whether trying again can help."""


class TransientSendError(SendError):
    """Timeouts, disconnects: the same message may be retried later with the same id."""


class PermanentSendError(SendError):
    """Invalid number and the like: retrying cannot help."""


class NotOnWhatsApp(PermanentSendError):
    """The number has no WhatsApp account; the recipient is skipped, not counted as a send."""

    def __init__(self, phone: str) -> None:
        super().__init__(f"{phone} is not on WhatsApp")


class Transport(Protocol):
    async def show_typing(self, phone: str, seconds: float) -> None:
        """Show "typing…" to the recipient for about `seconds` (the caller waits that long)."""

    async def send(self, phone: str, text: str, message_id: str, attempt: int) -> None:
        """Deliver `text` under `message_id`; a repeat of a delivered id must not deliver again."""

    async def close(self) -> None:
        """Release the connection."""
