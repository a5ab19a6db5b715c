"""A dashboard page left open after its session ended, driven over its socket as an attacker would:
its own script (which follows the server's reload) is not run; clicks are sent by hand."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from html import unescape as html_unescape
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import socketio

from models import Audience, Contract, ContractStatus
from services import signin, team, users, wizard_drafts
from tests.conftest import API_KEY
from tests.helpers import new_account, new_contract, phone, until

PASSWORD = "battery staple"
ASKED = "Delete this contract?"


class OpenPage:
    """A page as its browser holds it: the elements its HTML came with, and its socket."""

    def __init__(self, html: str, socket: socketio.AsyncClient, client_id: str) -> None:
        embedded = re.search(r"parseElements\(String\.raw`(.*?)`\)", html, re.S)[1]
        self.elements: dict[str, Any] = json.loads(html_unescape(embedded))
        self.socket = socket
        self.client_id = client_id
        self.received: list[tuple[str, Any]] = []
        self.closed = asyncio.Event()

    def shows(self, text: str) -> bool:
        """Whether the server sent the page `text` since it was opened."""
        return text in json.dumps(self.received, ensure_ascii=False)

    async def click(self, label: str) -> None:
        """Send the click event of the button labelled `label`, as the page's script would."""
        (button_id, button) = next(
            (i, e) for i, e in self.elements.items() if e.get("props", {}).get("label") == label
        )
        (listener,) = [e["listener_id"] for e in button["events"] if e["type"] == "click"]
        await self.socket.emit(
            "event", {"id": int(button_id), "client_id": self.client_id, "listener_id": listener, "args": []}
        )


@asynccontextmanager
async def opened(web: str, browser: httpx.AsyncClient, path: str) -> AsyncIterator[OpenPage]:
    r = await browser.get(path)
    assert r.status_code == 200, r.status_code
    client_id = re.search(r"""["']client_id["']: ["']([0-9a-f-]+)["']""", r.text)[1]
    page = OpenPage(r.text, await connected(web, browser, client_id), client_id)
    page.socket.on("*", lambda event, data: page.received.append((event, data)))
    page.socket.on("disconnect", page.closed.set)
    try:
        yield page
    finally:
        await page.socket.disconnect()


async def connected(web: str, browser: httpx.AsyncClient, client_id: str) -> socketio.AsyncClient:
    """The page's socket, connected as its script connects it."""
    socket = socketio.AsyncClient(reconnection=False)
    query = {
        "client_id": client_id,
        "tab_id": str(uuid.uuid4()),
        "document_id": str(uuid.uuid4()),
        "implicit_handshake": "true",
        "next_message_id": "0",
    }
    await socket.connect(
        f"{web}?{urlencode(query)}",
        socketio_path="/_nicegui_ws/socket.io",
        transports=["websocket"],
        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items())},
    )
    return socket


async def signed_in(web: str, username: str) -> httpx.AsyncClient:
    """A browser signed in as `username` (the page's sign-in, then its POST to /login/finish)."""
    browser = httpx.AsyncClient(base_url=web)
    ticket = await signin.with_password(username, PASSWORD, "127.0.0.1")
    r = await browser.post("/login/finish", data={"ticket": ticket, "next": "/"}, headers={"Origin": web})
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    return browser


async def status_of(contract_id: str) -> ContractStatus | None:
    contract = await Contract.get_or_none(id=contract_id)  # None: deleted
    return contract.status if contract else None


async def test_a_page_whose_session_ended_does_nothing_and_is_disconnected(
    web: str, fresh_throttle: None
) -> None:
    await users.create_first_user("anna", PASSWORD)
    async with httpx.AsyncClient(base_url=web, headers={"X-API-Key": API_KEY}) as api:
        account = await new_account(api, transport="sandbox")
        contracts = [await new_contract(api, account, n=1) for _ in range(4)]

    async def removed(username: str, _: httpx.AsyncClient) -> None:
        await team.remove("anna", username)

    async def signed_out(_: str, browser: httpx.AsyncClient) -> None:  # in another tab
        r = await browser.post("/logout", headers={"Origin": web})
        assert r.status_code == 303

    async def password_changed(username: str, _: httpx.AsyncClient) -> None:  # in another browser
        elsewhere = await signed_in(web, username)
        token = await signin.redeem(await signin._ticket(username))
        await signin.change_password(username, PASSWORD, PASSWORD + "!", token, "127.0.0.2")
        await elsewhere.aclose()

    endings: list[Callable[[str, httpx.AsyncClient], Awaitable[None]]] = [
        removed,
        signed_out,
        password_changed,
    ]
    clicked = ["Start", "Delete", "Start"]
    for ending, contract_id, label in zip(endings, contracts[1:], clicked, strict=True):
        username = f"boris-{ending.__name__}"
        await team.join(await team.invite("anna", users.ADMIN), username, PASSWORD)
        browser = await signed_in(web, username)
        async with opened(web, browser, f"/contracts/{contracts[0]}") as page:
            await page.click("Delete")  # while signed in, the page acts: it asks first

            async def asks(page: OpenPage = page) -> bool:
                return page.shows(ASKED)

            await until(asks, "the page asks before it deletes", seconds=10)
        async with opened(web, browser, f"/contracts/{contract_id}") as page:
            await ending(username, browser)
            await page.click(label)
            await asyncio.wait_for(page.closed.wait(), 10)  # the server closed the page's socket
            with pytest.raises(socketio.exceptions.ConnectionError):  # and forgot the page
                await connected(web, browser, page.client_id)
            await asyncio.sleep(1)
            assert await status_of(contract_id) == ContractStatus.PENDING, ending.__name__  # not started
            assert not page.shows(ASKED), ending.__name__
            assert ("open", {"path": f"/login?next=/contracts/{contract_id}", "new_tab": False}) in [
                (event, {k: v for k, v in data.items() if k != "_id"}) for event, data in page.received
            ], ending.__name__
        await browser.aclose()
    assert await status_of(contracts[0]) == ContractStatus.PENDING


async def test_a_page_whose_session_ended_uploads_nothing(web: str, fresh_throttle: None) -> None:
    await users.create_first_user("anna", PASSWORD)
    browser = await signed_in(web, "anna")
    async with opened(web, browser, "/contracts/new") as page:
        (url,) = [u for e in page.elements.values() if "/upload/" in (u := e.get("props", {}).get("url", ""))]
        r = await browser.post("/logout", headers={"Origin": web})
        assert r.status_code == 303
        upload = {"file": ("clients.csv", f"phone\n{phone(1)}\n".encode(), "text/csv")}
        r = await browser.post(url, files=upload)
        assert r.status_code == 403, r.text
        await asyncio.wait_for(page.closed.wait(), 10)
    assert await wizard_drafts.recall("anna") == {}
    assert not await Audience.exists(), "the upload was not kept"
