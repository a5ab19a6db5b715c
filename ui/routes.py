"""Every dashboard page and route, registered on NiceGUI's app (`register()`, called once per app)."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import StreamingResponse
from nicegui import app, ui

from services import contracts, csv_export
from services.errors import NotFound
from ui.frame import page, signed_in
from ui.login import finish, login, logout
from ui.pages.accounts import accounts_page, pairing_page, sandbox_paired
from ui.pages.contract import contract_page
from ui.pages.overview import overview_page
from ui.pages.wizard import wizard_page


def register() -> None:
    page("/", "Overview")(overview_page)
    page("/accounts", "Accounts")(accounts_page)
    page("/accounts/{account_id}/pair", "Pair an account")(pairing_page)
    page("/contracts/new", "New contract")(wizard_page)
    page("/contracts/{contract_id}", "Contract")(contract_page)
    ui.page("/login", title="Sign in · WA Contracts")(login)
    app.get("/login/finish", include_in_schema=False)(finish)
    app.get("/logout", include_in_schema=False)(logout)
    ui.page("/sandbox/pair/{account_id}/{token}", title="Pairing · WA Contracts")(sandbox_paired)
    app.get("/ui/contracts/{contract_id}/export.csv", include_in_schema=False)(export_csv)


async def export_csv(contract_id: str) -> StreamingResponse:
    """The contract's CSV for a signed-in dashboard user (the API's export needs the API key)."""
    if not await signed_in():
        raise HTTPException(401, "sign in first")
    try:
        contract = await contracts.get_contract(contract_id)
    except NotFound as exc:
        raise HTTPException(404, exc.message) from None
    return StreamingResponse(
        csv_export.export_csv(contract.id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{contract.id}.csv"'},
    )
