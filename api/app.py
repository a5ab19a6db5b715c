"""Join the API to the web app (NiceGUI's FastAPI app in production, a bare one for tests)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api import errors
from api.routes import accounts, contracts, system
from settings import get_settings


def install(app: FastAPI) -> None:
    errors.install(app)
    limit = get_settings().max_body_bytes

    @app.middleware("http")
    async def _limit_body(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            return JSONResponse(
                {
                    "error": f"the body is larger than {limit} bytes",
                    "details": [{"field": "body", "message": "too large"}],
                },
                status_code=413,
            )
        return await call_next(request)

    for module in (system, contracts, accounts):
        app.include_router(module.router)
