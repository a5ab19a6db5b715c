"""Join the API to the web app (NiceGUI's FastAPI app in production, a bare one for tests)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors, json_body
from api.coalesce import CoalesceReads
from api.deps import MISSING_KEY
from api.routes import accounts, contracts, system
from services import apikey
from services.errors import Problem, TooLarge
from settings import get_settings


class BodyLimit:
    """413 for a request whose Content-Length is over the limit, before anything reads it, and for
    a body without one (chunked) as soon as what was read passes the limit. A JSON body has a lower
    limit: it is parsed whole into Python objects, some 11 bytes of memory for each of its bytes (a
    million recipients took 959 MiB and held the event loop 6 s), where the CSV import reads its
    body a row at a time.
    Plain ASGI: Starlette's BaseHTTPMiddleware costs every request a task group."""

    def __init__(self, app: ASGIApp, limit: int, json_limit: int) -> None:
        self.app = app
        self.limits = {False: limit, True: json_limit}  # by whether the body is JSON
        self.refusals = {
            False: f"the body is larger than {limit} bytes",
            True: f"the JSON body is larger than {json_limit} bytes: send a long list of recipients "
            "as CSV to POST /api/contracts/import",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(reversed(scope["headers"]))  # the first of a repeated header, as FastAPI reads
        is_json = json_body.is_json(headers.get(b"content-type", b"").decode("latin-1"))
        limit, refusal = self.limits[is_json], self.refusals[is_json]
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await self._refuse(refusal, scope, receive, send)
            return
        read = 0
        over = False

        async def counting() -> Message:
            nonlocal read, over
            message = await receive()
            read += len(message.get("body", b""))
            if read > limit:
                over = True
                raise TooLarge(refusal, [Problem("body", "too large")])
            return message

        async def sending(message: Message) -> None:
            if not over:
                await send(message)
            elif message["type"] == "http.response.start":  # whatever the app made of the error
                await self._refuse(refusal, scope, receive, send)

        await self.app(scope, counting, sending)

    async def _refuse(self, message: str, scope: Scope, receive: Receive, send: Send) -> None:
        body = {"error": message, "details": [Problem("body", "too large").as_json()]}
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
    s = get_settings()
    app.add_middleware(BodyLimit, limit=s.max_body_bytes, json_limit=s.max_json_body_bytes)
    app.add_middleware(RequireKey)  # runs before BodyLimit and the routes read anything
    app.add_middleware(CoalesceReads)
    for module in (system, contracts, accounts):
        app.include_router(module.router)
