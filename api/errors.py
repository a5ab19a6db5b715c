"""Every error leaves as JSON `{"error", "details": [{"field", "message", "index"?}]}`, never a 500."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from tortoise.exceptions import IntegrityError

from models.db import UNAVAILABLE
from services.errors import ServiceError

log = logging.getLogger(__name__)


def field_path(loc: tuple) -> tuple[str, int | None]:
    """('body', 'recipients', 3, 'phoneNumber') → ('recipients[3].phoneNumber', 3)."""
    path = ""
    index = None
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        if isinstance(part, int):
            path += f"[{part}]"
            if index is None and path.startswith("recipients"):
                index = part
        else:
            path += f".{part}" if path else str(part)
    return path or str(loc[0] if loc else "body"), index


def _error(status: int, message: str, details: list[dict] | None = None, **extra) -> JSONResponse:
    return JSONResponse({"error": message, "details": details or []}, status_code=status, **extra)


async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return _error(400, "the body is not valid JSON", [{"field": "body", "message": errors[0].get("msg")}])
    details = []
    for e in errors[:1000]:
        field, index = field_path(tuple(e.get("loc", ())))
        item = {"field": field, "message": e.get("msg", "invalid")}
        if index is not None:
            item["index"] = index
        details.append(item)
    if details and details[0]["field"] == "body" and len(details) == 1:
        return _error(422, "a JSON body is required", details)
    return _error(422, f"{len(errors)} fields are invalid; nothing was changed", details)


async def _service(_: Request, exc: ServiceError) -> JSONResponse:
    wait = getattr(exc, "retry_after_s", None)  # Busy, TooManyAttempts
    headers = {"Retry-After": str(wait)} if wait else None
    return _error(exc.status_code, exc.message, [p.as_json() for p in exc.problems], headers=headers)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return _error(exc.status_code, str(exc.detail), headers=headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI schema documents for this path. Starlette's own 405 names only
    those of the first route that matched, and FastAPI no longer lists included routes flat."""
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/}]+\}", "[^/]+", template), path):
            methods |= {m.upper() for m in operations}
    return sorted(methods)


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    log.warning("a write conflicted with a concurrent one: %s", exc)
    return _error(409, "the request conflicts with a change made at the same time; read again and retry")


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=exc)
    return _error(500, "something went wrong on our side; the details are in the server log")


async def _client_gone(request: Request, _: ClientDisconnect) -> JSONResponse:
    """The client went (or the server dropped it, ui/guarded_http.py) before its body was read
    whole: expected, so a line and no trace; the answer goes nowhere but keeps the handler's shape."""
    log.info("%s %s: the client went before its body was read whole", request.method, request.url.path)
    return _error(400, "the request's body did not arrive whole", [{"field": "body", "message": "cut short"}])


async def _database(_: Request, exc: Exception) -> JSONResponse:
    log.error("database error", exc_info=exc)
    return _error(503, "the database is unavailable; try again shortly", headers={"Retry-After": "5"})


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ServiceError, _service)
    app.add_exception_handler(StarletteHTTPException, _http)
    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, _database)
    app.add_exception_handler(ClientDisconnect, _client_gone)  # else a 500 and two traces
    app.add_exception_handler(IntegrityError, _conflict)  # more specific than OperationalError: wins
    app.add_exception_handler(Exception, _unexpected)  # JSON, never Starlette's plain-text 500
