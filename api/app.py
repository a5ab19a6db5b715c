"""Join the API to the web app (NiceGUI's FastAPI app in production, a bare one for tests)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api import errors
from api.coalesce import CoalesceReads
from api.routes import accounts, contracts, system
from settings import get_settings


class BodyLimit:
    """413 for a request whose Content-Length is over the limit, before anything reads it.
    Plain ASGI: Starlette's BaseHTTPMiddleware costs every request a task group."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length", b"")
            if length.isdigit() and int(length) > self.limit:
                body = {
                    "error": f"the body is larger than {self.limit} bytes",
                    "details": [{"field": "body", "message": "too large"}],
                }
                await JSONResponse(body, status_code=413)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    errors.install(app)
    app.add_middleware(BodyLimit, limit=get_settings().max_body_bytes)
    app.add_middleware(CoalesceReads)
    for module in (system, contracts, accounts):
        app.include_router(module.router)
