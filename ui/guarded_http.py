"""uvicorn's HTTP protocol (httptools) with the limits it lacks against hostile clients.

uvicorn reads a request's head without a size limit (a 100 MiB header was read whole) and has no
deadline for a request to arrive (half-sent connections stayed open for good). This protocol adds:
a cap on the head's bytes (431, connection closed), a deadline for a head to arrive whole after its
first byte (or after connecting), a limit on the silence between body chunks, and a bound on open
HTTP connections (past it new ones are closed at once; WebSockets are not counted, as uvicorn hands
them to another protocol). Everything else is uvicorn's.
"""

from __future__ import annotations

import asyncio
import json
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from settings import get_settings

log = logging.getLogger(__name__)


class GuardedHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        s = get_settings()
        self.max_head_bytes = s.http_max_head_bytes
        self.head_timeout_s = s.http_head_timeout_s
        self.body_idle_timeout_s = s.http_body_idle_timeout_s
        self.max_connections = s.http_max_connections
        self.head_bytes: int | None = 0  # bytes of the head being read; None while reading a body
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            log.warning("refused a connection: %d HTTP connections are open", len(self.connections))
            transport.close()
            return
        super().connection_made(transport)
        self._arm(self.head_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.transport is not None:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.head_bytes is not None:
            if self.head_bytes == 0:
                self._arm(self.head_timeout_s)  # the head has begun: it must be whole in time
            end = data.find(b"\r\n\r\n")
            self.head_bytes += len(data) if end < 0 else end
            if self.head_bytes > self.max_head_bytes:
                self._refuse_head()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self.head_bytes = None
        self._arm(self.body_idle_timeout_s)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._arm(self.body_idle_timeout_s)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self.head_bytes = 0  # the next request's head, timed from its first byte
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        super().handle_websocket_upgrade()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _too_slow(self) -> None:
        self.deadline = None
        if self.flow is not None and self.flow.read_paused:
            self._arm(self.body_idle_timeout_s)  # the app is not reading: not the client's fault
            return
        if self.head_bytes == 0 and self.cycle is not None and not self.cycle.response_complete:
            return  # a response is being made; uvicorn's keep-alive timeout follows it
        if not self.transport.is_closing():
            log.info("dropped a connection from %s: the request did not arrive in time", self.client)
            self.transport.close()

    def _refuse_head(self) -> None:
        self._disarm()
        body = json.dumps(
            {
                "error": f"the request's headers are larger than {self.max_head_bytes} bytes",
                "details": [{"field": "headers", "message": "too large"}],
            }
        ).encode()
        head = (
            "HTTP/1.1 431 Request Header Fields Too Large\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        ).encode()
        self.transport.write(head + body)
        self.transport.close()
        self.head_bytes = None
