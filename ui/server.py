"""The web process: the JSON API and the NiceGUI pages on one FastAPI app, port 5001 (`python main.py`).

The API app is the outer one and NiceGUI is mounted inside it (`ui.run_with`), so `/api` and
`/health` requests skip NiceGUI's middleware (gzip and two BaseHTTPMiddleware layers): that
doubles the requests a core can answer (docs/BENCHMARKS.md, API under load).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import resource
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from nicegui import core, ui

import api.app
from models.db import close_db, init_db
from services import phones, users
from services.queue import broker
from services.users import session_secret
from settings import get_settings
from ui import open_pages, routes
from ui.client_bounds import ClientBounds
from ui.guarded_http import GuardedHttpProtocol
from ui.headers import SecurityHeaders

log = logging.getLogger("web")


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    await init_db()
    await broker.startup()
    await phones.warm_up()
    if await users.first_run():  # on the console only, as Jupyter shows its token; never logged
        print(f"Setup code for the first user of this installation: {users.setup_code()}", flush=True)
    # What startup built (NiceGUI, FastAPI, the ORM) lives as long as the process: keep it out of
    # the collector, whose full passes over it paused every request up to 64 ms under load.
    gc.freeze()
    yield
    await broker.shutdown()
    await close_db()
    phones.shut_down()


def build() -> FastAPI:
    s = get_settings()
    # Swagger UI and ReDoc from the product's own files: no CDN, no third-party script on this origin.
    app = FastAPIOffline(title="WA Contracts", lifespan=_lifespan, static_url="/docs-assets")
    api.app.install(app)
    app.add_middleware(SecurityHeaders, hsts=s.session_cookie_secure)
    secret = session_secret()
    session = {"https_only": s.session_cookie_secure, "same_site": "lax", "max_age": s.session_max_age_s}
    app.add_middleware(ClientBounds, session={"secret_key": secret, **session})  # outermost: first
    routes.register()
    ui.run_with(
        app,
        title="WA Contracts",
        show_welcome_message=False,
        storage_secret=secret,
        session_middleware_kwargs=session,
    )
    _ignore_browser_logs()
    open_pages.install(app)
    return app


def _ignore_browser_logs() -> None:
    """NiceGUI writes whatever a browser sends as a socket.io `log` event into the server log, so
    anyone could forge lines there; such messages are dropped."""

    @core.sio.on("log")
    def _dropped(_: str, __: object) -> None:
        return None


def run() -> None:
    s = get_settings()
    _more_open_files()
    uvicorn.run(
        build(),
        host=s.host,
        port=s.port,
        log_level="warning",
        http=GuardedHttpProtocol,
        forwarded_allow_ips=s.forwarded_allow_ips,  # uvicorn would trust 127.0.0.1 unless told
        # A stop must not wait for open streams (a pairing stream lasts minutes) or a held port
        # would keep the next start from listening.
        timeout_graceful_shutdown=10,
    )


def _more_open_files() -> None:
    """Each connection is a file: take the hard limit, so the connection bound is what refuses."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):  # some systems cap it below the hard limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
