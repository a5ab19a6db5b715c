"""A fake of the part of neonize's client the product uses (wa/whatsapp/client.NeonizeClient).

It speaks in neonize's own protobuf types, and tests raise neonize's real events through the handlers
the product registered (`emit`). Worker processes use it with WHATSAPP_CLIENT=tests.fake_neonize:FakeClient;
each send is then appended to the file FAKE_WHATSAPP_LOG (one JSON line), so a test can count how
often each number got a message across crashes.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from neonize.aioze.events import ConnectedEv
from neonize.exc import IsOnWhatsAppError, NeonizeError, PairPhoneError, SendMessageError
from neonize.proto.Neonize_pb2 import JID, IsOnWhatsAppResponse, SendResponse
from neonize.utils.enum import ChatPresence, ChatPresenceMedia


class FakeClient:
    instances: ClassVar[dict[str, FakeClient]] = {}
    # What the fake network answers, shared by every client: send errors by phone (each raised
    # once per entry in the list), numbers without WhatsApp, an is-on-WhatsApp failure.
    send_errors: ClassVar[dict[str, list[str]]] = {}
    not_on_whatsapp: ClassVar[set[str]] = set()
    check_error: ClassVar[str | None] = None
    connect_error: ClassVar[str | None] = None

    def __init__(
        self,
        name: str,
        jid: JID | None = None,
        props: Any = None,
        uuid: str | None = None,
        new_device: bool = False,
    ) -> None:
        self.name = name
        self.jid = jid
        self.uuid = uuid or name
        self.new_device = new_device
        self.handlers: dict[type, Callable[[Any, Any], Awaitable[None]]] = {}
        self.qr_handler: Callable[[Any, bytes], Awaitable[None]] | None = None
        self.connected = False
        self.sent: list[tuple[str, str, str]] = []
        self.presence: list[tuple[str, ChatPresence]] = []
        self.checked: list[str] = []
        self.me = None
        self.logged_out = False
        self.closed = asyncio.Event()
        FakeClient.instances[self.uuid] = self

    @classmethod
    def reset(cls) -> None:
        cls.instances.clear()
        cls.send_errors.clear()
        cls.not_on_whatsapp.clear()
        cls.check_error = None
        cls.connect_error = None

    def qr(self, handler: Callable[[Any, bytes], Awaitable[None]]) -> None:
        self.qr_handler = handler

    def event(self, event_type: type) -> Callable[[Callable[[Any, Any], Awaitable[None]]], None]:
        def register(handler: Callable[[Any, Any], Awaitable[None]]) -> None:
            self.handlers[event_type] = handler

        return register

    async def emit(self, event: Any) -> None:
        """Deliver an event the way neonize does: to the handler registered for its type."""
        await self.handlers[type(event)](self, event)

    async def show_qr(self, code: str) -> None:
        assert self.qr_handler is not None
        await self.qr_handler(self, code.encode())

    async def connect(self) -> asyncio.Task:
        """Like neonize: the connection is a task that lasts until the client disconnects (or fails
        at once). A stored device reconnects; a new one is shown its first QR code."""
        self.connected = True
        self.closed = asyncio.Event()
        return asyncio.create_task(self._connection())

    async def _connection(self) -> None:
        if FakeClient.connect_error:
            raise NeonizeError(FakeClient.connect_error)
        if self.jid is not None:
            await self.emit(ConnectedEv(status=True))
        else:
            await self.show_qr(f"2@fake-qr-{self.uuid}-1")
        await self.closed.wait()

    async def disconnect(self) -> None:
        self.connected = False
        self.closed.set()

    async def logout(self) -> None:
        self.logged_out = True
        await self.disconnect()

    async def PairPhone(self, phone: str, show_push_notification: bool) -> str:
        if not phone.isdigit():
            raise PairPhoneError("invalid phone number")
        return "FAKE-" + phone[-4:]

    async def send_message(self, to: JID, message: str) -> SendResponse:
        errors = FakeClient.send_errors.get(to.User)
        if errors:
            raise SendMessageError(errors.pop(0))
        latency = float(os.environ.get("FAKE_WHATSAPP_LATENCY_S", "0"))
        if latency:
            await asyncio.sleep(latency)
        message_id = "3EB0" + uuidlib.uuid4().hex[:16].upper()
        self.sent.append((to.User, message, message_id))
        log = os.environ.get("FAKE_WHATSAPP_LOG")
        if log:
            line = json.dumps({"account": self.uuid, "phone": to.User, "id": message_id}) + "\n"
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        return SendResponse(ID=message_id, Timestamp=0)

    async def send_chat_presence(self, jid: JID, state: ChatPresence, media: ChatPresenceMedia) -> None:
        self.presence.append((jid.User, state))

    async def is_on_whatsapp(self, *numbers: str) -> list[IsOnWhatsAppResponse]:
        if FakeClient.check_error:
            raise IsOnWhatsAppError(FakeClient.check_error)
        self.checked.extend(numbers)
        return [IsOnWhatsAppResponse(Query=n, IsIn=n not in FakeClient.not_on_whatsapp) for n in numbers]
