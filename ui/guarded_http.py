"""uvicorn's HTTP protocol (httptools) with the limits it lacks against hostile clients.

uvicorn reads a request's head without a size limit (a 100 MiB header was read whole) and has no
deadline for a request to arrive (half-sent connections stayed open for good). This protocol adds:
a cap on the head's bytes (431, connection closed); a deadline for a head to arrive whole after its
first byte (or after connecting); for a body, a limit on silences and a minimum average rate (so a
byte now and then cannot hold a connection); and bounds on open HTTP connections, in all and per
peer address (past them new ones are closed at once). An upgraded connection (a WebSocket) leaves
those bounds. A trusted reverse proxy (FORWARDED_ALLOW_IPS) is not bounded per address: it carries
everyone's connections, which ui/client_bounds.py bounds per client once the request says whose it
is. Everything else is uvicorn's.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections import Counter
from typing import ClassVar

from uvicorn.middleware.proxy_headers import _TrustedHosts
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from settings import get_settings

log = logging.getLogger(__name__)
END_OF_HEAD = b"\r\n\r\n"


class GuardedHttpProtocol(HttpToolsProtocol):
    open_per_address: ClassVar[Counter[str]] = Counter()  # this process's open HTTP connections

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        s = get_settings()
        self.max_head_bytes = s.http_max_head_bytes
        self.head_timeout_s = s.http_head_timeout_s
        self.body_idle_timeout_s = s.http_body_idle_timeout_s
        self.min_body_bytes_per_s = s.http_min_body_bytes_per_s
        self.max_connections = s.http_max_connections
        self.max_per_address = s.http_max_connections_per_address
        self.address: str | None = None  # set while this connection is counted
        self.head_bytes: int | None = 0  # bytes of the head being read; None while reading a body
        self.head_tail = b""  # the last bytes of the head so far: its end may straddle two reads
        self.body_started = 0.0
        self.body_bytes = 0
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else "unknown"
        opened = self.open_per_address
        per_address = not _trusted(self.config.forwarded_allow_ips, address)
        if opened.total() >= self.max_connections or (
            per_address and opened[address] >= self.max_per_address
        ):
            log.warning("refused a connection from %s: %d HTTP connections are open", address, opened.total())
            transport.close()
            return
        opened[address] += 1
        self.address = address
        super().connection_made(transport)
        self._arm(self.head_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._uncount()
        if self.transport is not None:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.head_bytes is not None:
            if self.head_bytes == 0 and not self.head_tail:
                self._arm(self.head_timeout_s)  # the head has begun: it must be whole in time
            seen = self.head_tail + data
            end = seen.find(END_OF_HEAD)
            self.head_bytes += len(data) if end < 0 else max(0, end - len(self.head_tail))
            self.head_tail = seen[-(len(END_OF_HEAD) - 1) :]
            if self.head_bytes > self.max_head_bytes:
                self._refuse_head()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self.head_bytes = None
        self.head_tail = b""
        self.body_started = self.loop.time()
        self.body_bytes = 0
        self._arm(self.body_idle_timeout_s)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        elapsed = self.loop.time() - self.body_started
        if elapsed > self.body_idle_timeout_s and self.body_bytes < elapsed * self.min_body_bytes_per_s:
            self._drop("its body arrives too slowly")
            return
        self._arm(self.body_idle_timeout_s)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self.head_bytes = 0  # the next request's head, timed from its first byte
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        self._uncount()  # from here on a WebSocket, bounded per client by ui/client_bounds.py
        super().handle_websocket_upgrade()

    def _uncount(self) -> None:
        if self.address is not None:
            self.open_per_address[self.address] -= 1
            if self.open_per_address[self.address] <= 0:
                del self.open_per_address[self.address]
            self.address = None

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
        if self.head_bytes == 0 and not self.head_tail:  # nothing sent: a browser's spare connection
            self._drop("nothing arrived in time", quietly=True)
            return
        self._drop("the request did not arrive in time")

    def _drop(self, why: str, quietly: bool = False) -> None:
        if not self.transport.is_closing():
            log.log(
                logging.DEBUG if quietly else logging.WARNING,
                "dropped a connection from %s: %s",
                self.client,
                why,
            )
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


@functools.cache
def _trusted_proxies(allowed: str) -> _TrustedHosts:
    return _TrustedHosts(allowed)


def _trusted(allowed: list[str] | str, address: str) -> bool:
    """Whether `address` is a proxy uvicorn takes X-Forwarded-For from (its rule, its setting)."""
    return address in _trusted_proxies(allowed if isinstance(allowed, str) else ",".join(allowed))
