"""Join the API to the web app (NiceGUI's FastAPI app in production, a bare one for tests)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.coalesce import CoalesceReads
from api.deps import MISSING_KEY
from api.routes import accounts, contracts, system
from services import apikey
from services.errors import Problem, TooLarge
from settings import get_settings


class BodyLimit:
    """413 for a request whose Content-Length is over the limit, before anything reads it, and for
    a body without one (chunked) as soon as what was read passes the limit.
    Plain ASGI: Starlette's BaseHTTPMiddleware costs every request a task group."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.message = f"the body is larger than {limit} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        read = 0
        over = False

        async def counting() -> Message:
            nonlocal read, over
            message = await receive()
            read += len(message.get("body", b""))
            if read > self.limit:
                over = True
                raise TooLarge(self.message, [Problem("body", "too large")])
            return message

        async def sending(message: Message) -> None:
            if not over:
                await send(message)
            elif message["type"] == "http.response.start":  # whatever the app made of the error
                await self._refuse(scope, receive, send)

        await self.app(scope, counting, sending)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {"error": self.message, "details": [Problem("body", "too large").as_json()]}
        await JSONResponse(body, status_code=413)(scope, receive, send)


class RequireKey:
    """401 for an `/api` request without the API key before anything reads its body: FastAPI parses
    a JSON body before the route's dependencies run, so without this anyone could make the process
    parse 256 MiB of JSON. (The routes' own key dependency stays: it documents the key in OpenAPI.)"""

    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            headers = dict(scope["headers"])
            key = headers.get(b"x-api-key", b"").decode("latin-1")
            if not apikey.in_headers(key, headers.get(b"authorization", b"").decode("latin-1")):
                body = {"error": MISSING_KEY, "details": []}
                headers_out = {"WWW-Authenticate": "Bearer"}
                await JSONResponse(body, status_code=401, headers=headers_out)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    errors.install(app)
    app.add_middleware(BodyLimit, limit=get_settings().max_body_bytes)
    app.add_middleware(RequireKey)  # runs before BodyLimit and the routes read anything
    app.add_middleware(CoalesceReads)
    for module in (system, contracts, accounts):
        app.include_router(module.router)
