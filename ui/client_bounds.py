"""Bounds on what one client holds open at once, by its address as uvicorn gives it (X-Forwarded-For
believed from FORWARDED_ALLOW_IPS only): requests in flight, WebSockets, and the dashboard's sockets
without a sign-in, bounded lower than a signed-in user's so that anonymous engine.io long-polls
cannot take all of an address's places.

ui/guarded_http.py bounds TCP connections per peer before a request's head is read; a reverse
proxy is one peer for everyone, so behind one the bound on requests here is what holds per client
(without a proxy a connection holds at most one request, and the TCP bound comes first). Past a
bound a request is answered 429 and a WebSocket is refused.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from fastapi.responses import JSONResponse
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from services import signin
from settings import get_settings

log = logging.getLogger(__name__)
SOCKETS = "/_nicegui_ws/"  # NiceGUI's socket.io (long-polls and WebSockets)


class ClientBounds:
    """Plain ASGI (Starlette's BaseHTTPMiddleware would cost every request a task group)."""

    def __init__(self, app: ASGIApp, session: dict[str, Any]) -> None:
        """`session`: the dashboard's SessionMiddleware arguments, to read its cookie as it does."""
        self.app = app
        self.cookie = SessionMiddleware(_keep_session, **session)
        s = get_settings()
        self.bounds = {
            "requests": s.http_max_connections_per_address,
            "WebSockets": s.http_max_websockets_per_address,
            "sockets without a sign-in": s.http_max_anonymous_sockets_per_address,
        }
        self.open: dict[str, Counter[str]] = {kind: Counter() for kind in self.bounds}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        address = scope["client"][0] if scope.get("client") else "unknown"
        kinds = ["WebSockets" if scope["type"] == "websocket" else "requests"]
        if scope["path"].startswith(SOCKETS) and not await self._signed_in(scope):
            kinds.append("sockets without a sign-in")
        # No await from the check to the count: requests checked together cannot all pass it.
        full = next((kind for kind in kinds if self.open[kind][address] >= self.bounds[kind]), None)
        if full is not None:
            log.info("refused a request from %s: %d %s are open from there", address, self.bounds[full], full)
            await _refuse(scope, receive, send, f"too many {full} are open from this address")
            return
        for kind in kinds:
            self.open[kind][address] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            for kind in kinds:
                self.open[kind][address] -= 1
                if self.open[kind][address] <= 0:
                    del self.open[kind][address]

    async def _signed_in(self, scope: Scope) -> bool:
        """Whether the request's session cookie holds a current sign-in."""
        seen: dict[str, Any] = {}
        await self.cookie({"type": "http", "headers": scope["headers"], "seen": seen}, _nothing, _nothing)
        token = seen.get("session", {}).get("token")
        return token is not None and await signin.session_user(token) is not None


async def _keep_session(scope: Scope, _: Receive, __: Send) -> None:
    scope["seen"]["session"] = dict(scope["session"])


async def _nothing(*_: object) -> Any:
    raise RuntimeError("reading a session cookie neither receives nor sends")


async def _refuse(scope: Scope, receive: Receive, send: Send, why: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})  # before the handshake: a 403
        return
    body = {"error": why, "details": []}
    await JSONResponse(body, status_code=429, headers={"Retry-After": "5"})(scope, receive, send)
