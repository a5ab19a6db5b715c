"""Every dashboard page and route, registered on NiceGUI's app (`register()`, called once per app)."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from nicegui import app, ui

from api.downloads import csv_download, xlsx_download
from models import Contract
from services import contracts
from services.errors import NotFound
from ui import handoff, i18n, page_memory
from ui.frame import page, signed_in, user_zone
from ui.i18n import N_
from ui.login import finish, invited, login, logout
from ui.pages.accounts import accounts_page, pairing_page, sandbox_paired
from ui.pages.audiences import audiences_page
from ui.pages.contract import contract_page
from ui.pages.overview import overview_page
from ui.pages.team import team_page
from ui.pages.wizard import wizard_page


def register() -> None:
    page_memory.install()
    page("/", N_("Overview"))(overview_page)
    page("/accounts", N_("Accounts"))(accounts_page)
    page("/accounts/{account_id}/pair", N_("Pair an account"), admins_only=True)(pairing_page)
    page("/audiences", N_("Audiences"))(audiences_page)
    page("/contracts/new", N_("New contract"))(wizard_page)
    page("/contracts/{contract_id}", N_("Contract"))(contract_page)
    page("/team", N_("Team"), admins_only=True)(team_page)
    ui.page("/login")(login)
    ui.page("/invite/{token}")(invited)
    app.post("/login/finish", include_in_schema=False)(finish)
    app.post("/logout", include_in_schema=False)(logout)
    ui.page("/sandbox/pair/{account_id}/{token}")(sandbox_paired)
    app.get("/ui/contracts/{contract_id}/export.csv", include_in_schema=False)(export_csv)
    app.get("/ui/contracts/{contract_id}/export.xlsx", include_in_schema=False)(export_xlsx)
    app.get("/ui/downloads/{token}", include_in_schema=False)(handoff.fetch)
    app.add_exception_handler(404, not_found)  # NiceGUI's own shows "HTTPException: 404: Not Found"


async def export_csv(contract_id: str, request: Request) -> StreamingResponse:
    """The contract as CSV that Excel set to Russian opens as columns, for a signed-in dashboard user
    (the API's export needs the API key); times in the user's zone."""
    contract, zone = await _exported(contract_id, request)
    return csv_download(contract.id, zone, for_excel=True)


async def export_xlsx(contract_id: str, request: Request) -> StreamingResponse:
    """The contract as an Excel workbook, as export_csv."""
    contract, zone = await _exported(contract_id, request)
    return await xlsx_download(contract.id, zone)


async def _exported(contract_id: str, request: Request) -> tuple[Contract, ZoneInfo]:
    who = await signed_in()
    if not who:
        raise HTTPException(401, "sign in first")
    try:
        contract = await contracts.get_contract(contract_id)
    except NotFound as exc:
        raise HTTPException(404, exc.message) from None
    return contract, await user_zone(request, who)


NOT_FOUND = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title} · WA Contracts</title>
<style>body{{font-family:system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0}}
main{{max-width:28rem;padding:1rem}}a{{color:#00695C;font-weight:600}}</style></head>
<body><main><h1>{title}</h1><p>{why}</p><p><a href="/">{home}</a></p></main></body></html>
"""


async def not_found(request: Request, exc: Exception) -> Response:
    """A page that does not exist, in the visitor's language, with the way home; a route that is not
    a page (NiceGUI's own) answers JSON, as the API does."""
    endpoint = request.scope.get("endpoint")  # a mount's (NiceGUI's app) when no route of it matched
    if endpoint is not None and endpoint is not app and not request.scope.get("nicegui_page_path"):
        return JSONResponse(
            {"error": str(getattr(exc, "detail", "not found")), "details": []}, status_code=404
        )
    cookie, asked = request.cookies.get(i18n.LANGUAGE_COOKIE), request.headers.get("accept-language")
    language = i18n.negotiate(None, cookie, asked)
    say = i18n.translations(language).gettext
    page = NOT_FOUND.format(
        lang=language,
        title=escape(say("Page not found")),
        why=escape(say("There is no such page: the link may be old, or the address mistyped.")),
        home=escape(say("Go to the overview")),
    )
    return HTMLResponse(page, status_code=404)
