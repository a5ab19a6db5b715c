"""The web process: NiceGUI pages and the JSON API on one FastAPI app, port 5001 (`python main.py`)."""

from __future__ import annotations

import logging

from nicegui import app, ui

import api.app
from services import phones
from services.apikey import api_key
from services.db import close_db, init_db
from settings import get_settings
from tasks.broker import broker
from ui.pages import home  # noqa: F401  (registers the page)

log = logging.getLogger("web")

api.app.install(app)


@app.on_startup
async def _startup() -> None:
    await init_db()
    await broker.startup()
    await phones.warm_up()
    log.warning("API key: %s (send as X-API-Key or Authorization: Bearer)", api_key())


@app.on_shutdown
async def _shutdown() -> None:
    await broker.shutdown()
    await close_db()


def run() -> None:
    s = get_settings()
    ui.run(host=s.host, port=s.port, reload=False, show=False, title="WA Contracts", fastapi_docs=True)
