"""Sending through a connected WhatsApp session: typing presence, the is-on-WhatsApp check (cached),
the send itself, and what each error of neonize means for the message or the account."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from neonize.exc import IsOnWhatsAppError, SendMessageError
from neonize.utils.enum import ChatPresence, ChatPresenceMedia

from models import AccountStatus, KnownNumber
from settings import Settings
from wa.sender import (
    AccountUnavailable,
    NotOnWhatsApp,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from wa.whatsapp.client import NeonizeClient, phone_jid

log = logging.getLogger(__name__)

# Substrings of whatsmeow's error texts, most specific first. Anything not listed is transient
# (timeouts, a dropped websocket, a server hiccup): retried with back-off, up to max_attempts.
_ACCOUNT_ERRORS = (
    ("not logged in", AccountStatus.LOGGED_OUT, "logged out"),
    ("logged out", AccountStatus.LOGGED_OUT, "logged out"),
    ("banned", AccountStatus.BANNED, "banned by WhatsApp"),
    ("rate-overlimit", AccountStatus.CONNECTED, "rate-limited by WhatsApp"),
    ("429", AccountStatus.CONNECTED, "rate-limited by WhatsApp"),
)
_PERMANENT_ERRORS = ("invalid jid", "not on whatsapp", "no such user", "406", "400 bad request")


def classify(error: str) -> SendError:
    """The error class of a failed send, from whatsmeow's message."""
    text = error.lower()
    for needle, status, what in _ACCOUNT_ERRORS:
        if needle in text:
            return AccountUnavailable(status, f"{what} ({error})")
    if any(needle in text for needle in _PERMANENT_ERRORS):
        return PermanentSendError(error)
    return TransientSendError(error)


class WhatsAppSender:
    """One account's sends through its session's client (connected elsewhere, by the session)."""

    def __init__(self, client: NeonizeClient, s: Settings) -> None:
        self.client = client
        self.settings = s

    async def show_typing(self, phone: str, seconds: float) -> None:
        """ "typing…" for `seconds`, then paused. Presence is courtesy: its failure stops nothing, and
        a session really gone is found by the send that follows. Nobody types to a number without
        WhatsApp: the send skips it right after."""
        jid = phone_jid(phone)
        try:
            if not await self.on_whatsapp(phone):
                return
            await self.client.send_chat_presence(jid, ChatPresence.CHAT_PRESENCE_COMPOSING, _TEXT)
            await asyncio.sleep(seconds)
            await self.client.send_chat_presence(jid, ChatPresence.CHAT_PRESENCE_PAUSED, _TEXT)
        except Exception as exc:  # noqa: BLE001
            log.info("presence to %s not shown: %s", phone, exc)

    async def send(self, phone: str, text: str, message_id: str, attempt: int) -> str:
        """Send and return WhatsApp's id for the message. neonize cannot send under an id of ours
        (its Go SendMessage ignores SendRequestExtra.ID), so the caller stores this id at once."""
        if not await self.on_whatsapp(phone):
            raise NotOnWhatsApp(phone)
        try:
            response = await self.client.send_message(phone_jid(phone), text)
        except SendMessageError as exc:
            raise classify(str(exc)) from exc
        return response.ID

    async def on_whatsapp(self, phone: str) -> bool:
        """Asked of WhatsApp once per number, then answered from the database for number_check_days."""
        now = datetime.now(UTC)
        fresh_after = now - timedelta(days=self.settings.number_check_days)
        known = await KnownNumber.get_or_none(phone_number=phone, checked_at__gte=fresh_after)
        if known is not None:
            return known.on_whatsapp
        try:
            answers = await self.client.is_on_whatsapp(phone)
        except IsOnWhatsAppError as exc:
            raise classify(str(exc)) from exc
        on = any(a.IsIn for a in answers)
        await KnownNumber.update_or_create(
            phone_number=phone, defaults={"on_whatsapp": on, "checked_at": now}
        )
        return on

    async def close(self) -> None:
        return None  # the session outlives one drive; the worker's session host closes it


_TEXT = ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
