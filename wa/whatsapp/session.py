"""One account's linked device, connected in this process: pairing, its events, its sender.

neonize calls the handlers on the event loop from its Go threads; an exception there would vanish, so
each handler logs its own failures. The session `ended` when WhatsApp says it cannot continue (logged
out, banned, replaced by another connection): the worker's session host then lets it go.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict
from neonize.aioze.events import (
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    LoggedOutEv,
    MessageEv,
    PairStatusEv,
    ReceiptEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.proto.Neonize_pb2 import ConnectFailureReason, Receipt, TemporaryBan

from models import AccountStatus
from settings import Settings
from texts import say
from wa.transport import SessionEvents
from wa.whatsapp.client import NeonizeClient, build_client
from wa.whatsapp.sender import WhatsAppSender

log = logging.getLogger(__name__)

_LOGGED_OUT_REASONS = {
    ConnectFailureReason.LOGGED_OUT,
    ConnectFailureReason.MAIN_DEVICE_GONE,
    ConnectFailureReason.UNKNOWN_LOGOUT,
}
_RECEIPTS = {Receipt.DELIVERED: "delivered", Receipt.READ: "read"}


def _reason(enum: Any, value: int) -> str:
    return enum.Name(value).lower().replace("_", " ") if value in enum.values() else f"code {value}"


def _logged(handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    @functools.wraps(handler)
    async def run(*args: Any) -> None:
        try:
            await handler(*args)
        except Exception:
            log.exception("WhatsApp event handler %s failed", handler.__name__)

    return run


class WhatsAppSession:
    def __init__(
        self,
        account_id: str,
        device_jid: dict[str, Any] | None,
        s: Settings,
        events: SessionEvents,
        client: NeonizeClient | None = None,
    ) -> None:
        self.account_id = account_id
        self.settings = s
        self.events = events
        self.client = client or build_client(account_id, device_jid, s)
        self.ended = asyncio.Event()
        self.connecting: Any = None  # neonize's task that holds the connection
        self.failure: str | None = None  # why the connection ended by itself, if it did
        self.connected = False
        self.sender = WhatsAppSender(self.client, s)
        self.client.qr(_logged(self.on_qr))
        for event_type, handler in (
            (PairStatusEv, self.on_pair_status),
            (ConnectedEv, self.on_connected),
            (DisconnectedEv, self.on_disconnected),
            (LoggedOutEv, self.on_logged_out),
            (TemporaryBanEv, self.on_temporary_ban),
            (ConnectFailureEv, self.on_connect_failure),
            (StreamReplacedEv, self.on_stream_replaced),
            (ReceiptEv, self.on_receipt),
            (MessageEv, self.on_message),
        ):
            self.client.event(event_type)(_logged(handler))

    async def start(self) -> None:
        """Connect. neonize's connection lives in a task that ends only when the client stops or
        cannot connect at all; the session ends with it, and the reason is shown on the account."""
        self.connecting = await self.client.connect()
        if isinstance(self.connecting, asyncio.Future):
            self.connecting.add_done_callback(self._connection_over)

    def _connection_over(self, connection: asyncio.Future) -> None:
        if self.ended.is_set():
            return
        error = None if connection.cancelled() else connection.exception()
        self.failure = f"could not connect: {error}" if error else "connection closed"
        self.ended.set()  # the session host shows the failure and tries again after a while

    async def stop(self) -> None:
        try:
            await self.client.disconnect()
        except Exception as exc:  # noqa: BLE001 - leaving anyway
            log.info("disconnecting %s: %s", self.account_id, exc)

    async def log_out(self) -> None:
        """Unlink this device from the phone (it leaves WhatsApp's Linked devices)."""
        self.ended.set()
        try:
            await self.client.logout()
        except Exception as exc:  # noqa: BLE001 - the phone can still remove it by hand
            log.warning("logging %s out of WhatsApp failed: %s", self.account_id, exc)

    async def pair_phone(self, phone: str) -> None:
        """Ask WhatsApp for a code to type on the phone instead of scanning (digits with country code)."""
        try:
            code = await self.client.PairPhone(phone, True)
        except Exception as exc:  # noqa: BLE001 - shown to the user, who may try again
            why = say("pairing by phone failed: {error}", error=str(exc))
            await self.events.set_status(self.account_id, AccountStatus.PAIRING, why, pair_code="")
            return
        await self.events.pair_code_issued(self.account_id, code)

    async def on_qr(self, _client: Any, code: bytes) -> None:
        await self.events.qr_rotated(self.account_id, code.decode())

    async def on_pair_status(self, _client: Any, ev: PairStatusEv) -> None:
        if ev.Status == PairStatusEv.SUCCESS:
            jid = MessageToDict(ev.ID, preserving_proto_field_name=True)
            await self.events.paired(self.account_id, jid, ev.BusinessName)
        else:
            await self.events.set_status(
                self.account_id, AccountStatus.PAIRING, f"pairing failed: {ev.Error}"
            )

    async def on_connected(self, client: Any, _ev: ConnectedEv) -> None:
        self.connected = True
        me = getattr(client, "me", None)
        await self.events.connected(self.account_id, getattr(me, "PushName", None))

    async def on_disconnected(self, _client: Any, _ev: DisconnectedEv) -> None:
        if not self.ended.is_set():  # whatsmeow reconnects by itself
            await self.events.set_status(
                self.account_id, AccountStatus.DISCONNECTED, "connection lost; reconnecting"
            )

    async def on_logged_out(self, _client: Any, ev: LoggedOutEv) -> None:
        why = (
            _reason(ConnectFailureReason, ev.Reason) if ev.HasField("Reason") else "logged out from the phone"
        )
        await self._end(AccountStatus.LOGGED_OUT, why)

    async def on_temporary_ban(self, _client: Any, ev: TemporaryBanEv) -> None:
        until = datetime.fromtimestamp(ev.Expire, UTC).isoformat() if ev.Expire else "unknown"
        await self._end(
            AccountStatus.BANNED,
            f"temporarily banned ({_reason(TemporaryBan.TempBanReason, ev.Code)}) until {until}",
        )

    async def on_connect_failure(self, _client: Any, ev: ConnectFailureEv) -> None:
        why = f"{_reason(ConnectFailureReason, ev.Reason)}{': ' + ev.Message if ev.Message else ''}"
        if ev.Reason in _LOGGED_OUT_REASONS:
            await self._end(AccountStatus.LOGGED_OUT, why)
        elif ev.Reason == ConnectFailureReason.TEMP_BANNED:
            await self._end(AccountStatus.BANNED, why)
        else:
            await self.events.set_status(self.account_id, AccountStatus.DISCONNECTED, why)

    async def on_stream_replaced(self, _client: Any, _ev: StreamReplacedEv) -> None:
        """Another client connected with this session; two would fight, so this one leaves."""
        self.failure = "replaced by another connection"
        self.ended.set()  # the session host shows it and waits before connecting again

    async def on_receipt(self, _client: Any, ev: ReceiptEv) -> None:
        kind = _RECEIPTS.get(ev.Type)
        if kind and ev.MessageIDs:
            at = datetime.fromtimestamp(ev.Timestamp, UTC) if ev.Timestamp else datetime.now(UTC)
            await self.events.receipt(list(ev.MessageIDs), kind, at)

    async def on_message(self, _client: Any, ev: MessageEv) -> None:
        source = ev.Info.MessageSource
        if source.IsFromMe or source.IsGroup:
            return
        text = ev.Message.conversation or ev.Message.extendedTextMessage.text
        if text:
            # Newer chats address people by a LID; the phone number is then the alternate JID.
            sender = source.SenderAlt if source.Sender.Server == "lid" else source.Sender
            await self.events.replied(self.account_id, sender.User, text)

    async def _end(self, status: AccountStatus, reason: str) -> None:
        self.ended.set()
        await self.events.account_lost(self.account_id, status, reason)
