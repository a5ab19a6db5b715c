"""The web process: the JSON API and the NiceGUI pages on one FastAPI app, port 5001 (`python main.py`).

The API app is the outer one and NiceGUI is mounted inside it (`ui.run_with`), so `/api` and
`/health` requests skip NiceGUI's middleware (gzip and two BaseHTTPMiddleware layers): that
doubles the requests a core can answer (docs/BENCHMARKS.md, API under load).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from nicegui import ui

import api.app
from services import phones
from services.apikey import api_key
from services.db import close_db, init_db
from services.users import session_secret
from settings import get_settings
from tasks.broker import broker
from ui import routes

log = logging.getLogger("web")


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    await init_db()
    await broker.startup()
    await phones.warm_up()
    log.warning("API key: %s (send as X-API-Key or Authorization: Bearer)", api_key())
    # What startup built (NiceGUI, FastAPI, the ORM) lives as long as the process: keep it out of
    # the collector, whose full passes over it paused every request up to 64 ms under load.
    gc.freeze()
    yield
    await broker.shutdown()
    await close_db()


def build() -> FastAPI:
    app = FastAPI(title="WA Contracts", lifespan=_lifespan)
    api.app.install(app)
    routes.register()
    ui.run_with(app, title="WA Contracts", show_welcome_message=False, storage_secret=session_secret())
    return app


def run() -> None:
    s = get_settings()
    uvicorn.run(build(), host=s.host, port=s.port, log_level="warning")
