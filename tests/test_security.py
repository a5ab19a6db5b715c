"""What a visitor without the key can do to the real web process: oversized and half-sent requests,
too many connections, forged browser logs, page headers, the session cookie, offline API docs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import socketio

from services import signin, users
from tests.browser import SIGN_IN, button, chromium, click, eventually, field
from tests.conftest import API_KEY
from tests.servers import Process, free_port, wait_for_port


@pytest.fixture
def start_web(db, tmp_path: Path) -> Iterator[Callable[..., tuple[str, Path]]]:
    """Start the real web process with extra settings; its URL and log file."""
    started: list[Process] = []

    def start(**env: str) -> tuple[str, Path]:
        port = free_port()
        log = tmp_path / f"web-{len(started)}.log"
        proc = Process(["main.py"], {**os.environ, "PORT": str(port), **env}, log).start()
        started.append(proc)
        wait_for_port(port, timeout=30)
        return f"http://127.0.0.1:{port}", log

    yield start
    for proc in started:
        proc.stop()


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sock


def _request_with_header(url: str, size: int) -> bytes:
    with _connect(url) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n")
        return sock.recv(4096)


def _closed_by_server(sock: socket.socket, wait_s: float = 0.2) -> bool:
    """Whether the server closed the connection (without answering anything)."""
    readable, _, _ = select.select([sock], [], [], wait_s)
    if not readable:
        return False
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


async def test_a_head_over_64_kib_is_refused_at_once_and_a_large_one_under_it_is_served(start_web) -> None:
    url, _ = start_web()
    refused = await asyncio.to_thread(_request_with_header, url, 65 * 1024)
    assert refused.startswith(b"HTTP/1.1 431 "), refused[:100]
    assert b'"field": "headers"' in refused
    served = await asyncio.to_thread(_request_with_header, url, 60 * 1024)
    assert served.startswith(b"HTTP/1.1 200 "), served[:100]


async def test_half_sent_requests_are_dropped_after_the_read_timeout_while_health_answers(start_web) -> None:
    url, log = start_web(HTTP_HEAD_TIMEOUT_S="2", HTTP_BODY_IDLE_TIMEOUT_S="2")
    silent = [_connect(url) for _ in range(5)]
    half_heads = [_connect(url) for _ in range(5)]
    half_bodies = [_connect(url) for _ in range(5)]
    for sock in half_heads:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    for sock in half_bodies:
        head = (
            f"POST /api/contracts HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nContent-Length: 1000\r\n\r\n"
        )
        sock.sendall(head.encode() + b"{")
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/health")).status_code == 200
    held = silent + half_heads + half_bodies
    assert not any(_closed_by_server(s, wait_s=0) for s in held)  # still within the timeout
    await asyncio.sleep(3)
    assert all(_closed_by_server(s) for s in held)
    for sock in held:
        sock.close()
    # A warning for each half-sent request, none for a connection that sent nothing (a browser opens
    # spare ones, and every page view logged them).
    dropped = re.findall(r"dropped a connection from (.+)", log.read_text())
    assert len(dropped) == 10 and all(d.endswith("the request did not arrive in time") for d in dropped)


async def test_a_head_whose_end_straddles_two_reads_is_not_counted_with_the_body(start_web) -> None:
    url, _ = start_web()
    body = b"x" * 100_000
    head = f"POST /api/contracts HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"

    def send() -> bytes:
        with _connect(url) as sock:
            sock.sendall(head.encode())
            time.sleep(0.2)  # the blank line that ends the head arrives with the body
            sock.sendall(b"\r\n" + body)
            return sock.recv(4096)

    answer = await asyncio.to_thread(send)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]  # the body is read: not JSON


@pytest.mark.parametrize("path", ["/api/contracts", "/api/contracts/import"])  # read whole; streamed
async def test_a_body_trickling_in_is_dropped_with_a_line_in_the_log_and_no_traceback(
    start_web, path: str
) -> None:
    url, log = start_web(HTTP_BODY_IDLE_TIMEOUT_S="1")

    def trickle() -> float:
        with _connect(url) as sock:
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\n"
                "Content-Length: 1000000\r\n\r\n".encode()
            )
            started = time.monotonic()
            while time.monotonic() - started < 10:
                try:
                    sock.sendall(b"x")
                except OSError:
                    break
                if _closed_by_server(sock, wait_s=0.3):
                    break
            return time.monotonic() - started

    assert await asyncio.to_thread(trickle) < 5  # a byte every 0.3 s: well under 1 KiB/s
    await asyncio.sleep(1)  # what the app does with the request cut short
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/health")).status_code == 200
    logged = log.read_text()
    assert "its body arrives too slowly" in logged
    assert "Traceback" not in logged, logged[-3000:]  # an expected condition, not a fault


@pytest.mark.parametrize("bound", ["HTTP_MAX_CONNECTIONS", "HTTP_MAX_CONNECTIONS_PER_ADDRESS"])
async def test_connections_past_the_bound_are_closed_and_service_resumes_when_they_go(
    start_web, bound: str
) -> None:
    url, _ = start_web(**{bound: "4"})
    held = [_connect(url) for _ in range(4)]
    await asyncio.sleep(0.3)
    extra = _connect(url)
    assert _closed_by_server(extra)
    for sock in held:
        sock.close()
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/health")).status_code == 200


async def test_a_browser_cannot_write_into_the_server_log(start_web) -> None:
    url, log = start_web()
    async with httpx.AsyncClient(base_url=url) as http:
        page = (await http.get("/login")).text
    client_id = page.split("'client_id': '", 1)[1].split("'", 1)[0]
    sio = socketio.AsyncClient()
    await sio.connect(url, socketio_path="/_nicegui_ws/socket.io", transports=["websocket"])
    for level in ("warning", "error"):
        forged = {"client_id": client_id, "level": level, "message": "API key: FORGED-LINE"}
        await sio.emit("log", forged)
    await asyncio.sleep(0.5)
    await sio.disconnect()
    assert "FORGED-LINE" not in log.read_text()


async def test_pages_and_api_carry_security_headers_and_the_cookie_is_lax_and_http_only(start_web) -> None:
    url, _ = start_web()
    async with httpx.AsyncClient(base_url=url) as http:
        first = await http.get("/login")
        cookie = first.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
        assert "strict-transport-security" not in first.headers
        for path in ("/login", "/health", "/api/contracts"):
            headers = (await http.get(path)).headers
            assert headers["x-frame-options"] == "DENY", path
            assert headers["x-content-type-options"] == "nosniff", path
            assert "frame-ancestors 'none'" in headers["content-security-policy"], path
            assert "default-src 'self'" in headers["content-security-policy"], path


async def test_behind_https_the_session_cookie_is_secure(start_web) -> None:
    url, _ = start_web(SESSION_COOKIE_SECURE="true")
    async with httpx.AsyncClient(base_url=url) as http:
        r = await http.get("/login")
    assert "; secure" in r.headers["set-cookie"].lower()
    assert r.headers["strict-transport-security"].startswith("max-age=")


async def test_api_docs_load_their_assets_from_the_product_not_a_cdn(start_web) -> None:
    url, _ = start_web()
    async with httpx.AsyncClient(base_url=url) as http:
        docs = (await http.get("/docs")).text
        assert "https://" not in docs and "cdn" not in docs
        assert "/docs-assets/swagger-ui-bundle.js" in docs
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            r = await http.get(f"/docs-assets/{asset}")
            assert r.status_code == 200 and len(r.content) > 10_000, asset


async def test_identical_event_streams_do_not_wait_for_each_other(start_web) -> None:
    url, _ = start_web()
    headers = {"X-API-Key": API_KEY}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as http:
        r = await http.post("/api/accounts", json={"name": "Phone", "transport": "whatsapp"})
        account_id = r.json()["id"]  # PAIRING, and no worker: the stream stays open

    def first_event(sock: socket.socket) -> bytes:
        path = f"/api/accounts/{account_id}/qr/stream"
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\n\r\n".encode())
        received = b""
        while b"event: pairing" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
        return received

    with _connect(url) as first, _connect(url) as second:
        assert b"event: pairing" in await asyncio.to_thread(first_event, first)
        # before: the second got nothing until the first stream ended (ten minutes)
        assert b"event: pairing" in await asyncio.to_thread(first_event, second)


async def test_websockets_do_not_count_against_the_connection_bound(start_web) -> None:
    url, _ = start_web(HTTP_MAX_CONNECTIONS="2")
    clients = [socketio.AsyncClient() for _ in range(3)]
    for sio in clients:
        await sio.connect(url, socketio_path="/_nicegui_ws/socket.io", transports=["websocket"])
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/health")).status_code == 200
    finally:
        for sio in clients:
            await sio.disconnect()


async def test_without_the_key_an_api_body_is_refused_before_it_is_read(start_web) -> None:
    """FastAPI parses a JSON body before a route's key check: 200 MB of it must not be read at all."""
    url, _ = start_web()

    def send() -> tuple[bytes, float]:
        with _connect(url) as sock:
            sock.sendall(
                b"POST /api/contracts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 200000000\r\n\r\n" + b'{"recipients": [' + b"0," * 5000
            )
            started = time.monotonic()
            return sock.recv(4096), time.monotonic() - started

    answer, took = await asyncio.to_thread(send)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:100]
    assert took < 2  # answered without waiting for the 200 MB


async def test_websockets_from_one_address_are_bounded_and_a_closed_one_frees_its_place(start_web) -> None:
    url, _ = start_web(HTTP_MAX_WEBSOCKETS_PER_ADDRESS="3")

    async def connect() -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(url, socketio_path="/_nicegui_ws/socket.io", transports=["websocket"])
        return sio

    open_ = [await connect() for _ in range(3)]
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect()
    await open_.pop().disconnect()
    await asyncio.sleep(0.3)
    open_.append(await connect())
    for sio in open_:
        await sio.disconnect()


def _held_request(url: str, forwarded_for: str) -> socket.socket:
    """A request in flight from `forwarded_for` (as a proxy would say): its body not yet sent."""
    sock = _connect(url)
    sock.sendall(
        f"POST /api/contracts HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nX-Forwarded-For: {forwarded_for}"
        "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode()
    )
    return sock


def _health_from(url: str, forwarded_for: str) -> bytes:
    """`/health`'s status line asked by `forwarded_for`; b"" when the connection is closed unanswered."""
    with _connect(url) as sock:
        sock.sendall(f"GET /health HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {forwarded_for}\r\n\r\n".encode())
        try:
            return sock.recv(4096).split(b"\r\n", 1)[0]
        except ConnectionResetError:
            return b""


@pytest.mark.parametrize("proxy", ["trusted", "untrusted"])
async def test_requests_are_bounded_per_client_behind_a_trusted_proxy_and_per_peer_otherwise(
    start_web, proxy: str
) -> None:
    trusted = {"FORWARDED_ALLOW_IPS": "127.0.0.1"} if proxy == "trusted" else {}
    url, _ = start_web(HTTP_MAX_CONNECTIONS_PER_ADDRESS="3", **trusted)
    held = [_held_request(url, "10.0.0.1") for _ in range(3)]
    await asyncio.sleep(0.3)
    try:
        other_client = await asyncio.to_thread(_health_from, url, "10.0.0.2")
        same_client = await asyncio.to_thread(_health_from, url, "10.0.0.1")
    finally:
        for sock in held:
            sock.close()
    if proxy == "trusted":  # before: the proxy's connections were counted as one client's
        assert other_client == b"HTTP/1.1 200 OK"
        assert same_client == b"HTTP/1.1 429 Too Many Requests"
    else:  # the header is the client's own word: both are the peer 127.0.0.1, which is full
        assert other_client == same_client == b""
    await asyncio.sleep(0.3)
    assert await asyncio.to_thread(_health_from, url, "10.0.0.1") == b"HTTP/1.1 200 OK"


PATH_EIO = "/_nicegui_ws/socket.io/?EIO=4&transport=polling"


async def _handshake(http: httpx.AsyncClient) -> str | int:
    """An engine.io session's id (the status code instead if its handshake is refused)."""
    handshake = await http.get(PATH_EIO)
    return json.loads(handshake.text[1:])["sid"] if handshake.status_code == 200 else handshake.status_code


async def _long_polls(http: httpx.AsyncClient, n: int) -> list[asyncio.Task]:
    """`n` engine.io long-polls held open. The handshakes come first and are over (as the server
    counts them: it counts a request until its handler returns, a moment after the answer) before
    the polls are held."""
    sids = [await _handshake(http) for _ in range(n)]
    assert all(isinstance(sid, str) for sid in sids), sids
    await asyncio.sleep(0.5)
    held = [asyncio.create_task(http.get(f"{PATH_EIO}&sid={sid}", timeout=60)) for sid in sids]
    await asyncio.sleep(0.5)
    assert not any(poll.done() for poll in held)
    return held


async def test_anonymous_sockets_have_a_lower_bound_than_a_signed_in_users(start_web) -> None:
    url, _ = start_web(HTTP_MAX_ANONYMOUS_SOCKETS_PER_ADDRESS="3")
    await users.create_first_user("anna", "correct horse battery")
    ticket = await signin.with_password("anna", "correct horse battery", "10.0.0.1")
    async with httpx.AsyncClient(base_url=url) as anonymous, httpx.AsyncClient(base_url=url) as anna:
        await anna.post("/login/finish", data={"ticket": ticket, "next": "/"}, headers={"Origin": url})
        cookie = f"session={anna.cookies['session']}"
        polls = await _long_polls(anonymous, 3)
        assert await _handshake(anonymous) == 429  # before: held like the others, up to 200 of them
        signed_in = socketio.AsyncClient(reconnection=False)
        await signed_in.connect(
            url, socketio_path="/_nicegui_ws/socket.io", transports=["websocket"], headers={"Cookie": cookie}
        )
        await signed_in.disconnect()
        anna_polls = await _long_polls(anna, 4)  # a signed-in user's long-polls, too
        for poll in [*polls, *anna_polls]:
            poll.cancel()


@pytest.mark.parametrize(
    ("trusted", "seen_as"), [(None, "127.0.0.1"), ("127.0.0.1", "1.2.3.4")], ids=["by-default", "trusted"]
)
async def test_a_local_clients_forwarded_for_is_believed_only_from_forwarded_allow_ips(
    start_web, trusted: str | None, seen_as: str
) -> None:
    """The address sign-in attempts are throttled by: before, uvicorn believed X-Forwarded-For from
    127.0.0.1 by default, so a local client could pick a new address for each guess."""
    url, log = start_web(**({"FORWARDED_ALLOW_IPS": trusted} if trusted else {}))
    await users.create_first_user("anna", "correct horse battery")
    browser = await asyncio.to_thread(chromium)
    try:
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"X-Forwarded-For": "1.2.3.4"}})
        await asyncio.to_thread(browser.get, f"{url}/login")
        user_field, password_field, go, _ = SIGN_IN["en"]
        field(browser, user_field).send_keys("anna")
        field(browser, password_field).send_keys("a wrong guess")
        click(browser, button(browser, go))
        failed = eventually(
            lambda: re.search(r"failed sign-in with user 'anna' from (\S+)", log.read_text()),
            what="the failed sign-in in the log",
        )
    finally:
        browser.quit()
    assert failed[1] == seen_as
