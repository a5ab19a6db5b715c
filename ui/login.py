"""Sign in: with a username and password, or with the API key. A fresh install has no user yet, and
this page then offers to create the first one."""

from __future__ import annotations

from nicegui import app, ui

from services import apikey, users
from ui.frame import attempt


def _safe_next(target: str | None) -> str:
    """Only paths of this site (no `//host` or `http:` redirects elsewhere)."""
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def _enter(who: str, target: str) -> None:
    app.storage.user.update(user=who)
    ui.navigate.to(_safe_next(target))


async def login(next: str | None = None) -> None:
    ui.colors(primary="#128C7E")
    first_run = await users.first_run()
    with ui.card().classes("absolute-center w-96 gap-3"):
        ui.label("WA Contracts").classes("text-h5 text-primary")
        if first_run:
            ui.label("Create the first user of this installation.").classes("text-body2")
        username = ui.input("Username").props("outlined autofocus").classes("w-full")
        password = ui.input("Password", password=True, password_toggle_button=True).props("outlined")
        password.classes("w-full")

        async def with_password() -> None:
            if first_run:
                created = await attempt(lambda: users.create_first_user(username.value, password.value))
                if created:
                    _enter(created.username, next or "/")
            elif await users.authenticate(username.value or "", password.value or ""):
                _enter(username.value.strip(), next or "/")
            else:
                ui.notify("Wrong username or password", type="negative")

        password.on("keydown.enter", with_password)
        ui.button("Create user and sign in" if first_run else "Sign in", on_click=with_password).classes(
            "w-full"
        )
        with ui.expansion("Sign in with the API key", icon="key").classes("w-full"):
            key = ui.input("API key", password=True).props("outlined").classes("w-full").mark("api-key")

            def with_key() -> None:
                if apikey.is_valid(key.value):
                    _enter("admin (API key)", next or "/")
                else:
                    ui.notify("That is not the API key", type="negative")

            key.on("keydown.enter", with_key)
            ui.button("Sign in with the key", on_click=with_key).props("outline").classes("w-full")
