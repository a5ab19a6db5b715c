"""Signing in to the dashboard: attempts throttled per client address and per username, and a
one-time ticket that the browser redeems over plain HTTP, where the session cookie is replaced
(so a cookie planted before sign-in never becomes a signed-in one)."""

from __future__ import annotations

import ipaddress
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from services import apikey, users
from services.errors import TooManyAttempts, Unauthorized
from services.throttle import Throttle

log = logging.getLogger(__name__)

TICKET_TTL_S = 30
KEY_USER = "admin (API key)"
MAX_CHECKS = 16  # passwords being checked at once, in all
throttle = Throttle()
_checking = 0
_tickets: dict[str, tuple[str, float]] = {}


async def with_password(username: str, password: str, address: str) -> str:
    """A ticket for the user, or Unauthorized / TooManyAttempts."""
    name = username.strip()[:100]
    keys = [_address_key(address), f"user:{name.casefold()}"]

    async def check() -> str | None:
        return name if await users.authenticate(name, password) else None

    return await _attempt(keys, check, f"user {name!r}", forget=keys[1])


async def with_key(key: str, address: str) -> str:
    async def check() -> str | None:
        return KEY_USER if apikey.is_valid(key.strip()) else None

    return await _attempt([_address_key(address)], check, "the API key")


async def claim(code: str, username: str, password: str, address: str) -> str:
    """Create the first user with the setup code and sign them in; a wrong code counts as a failure."""
    keys = [_address_key(address)]
    _refuse_while_throttled(keys)
    if not users.is_setup_code(code or ""):
        throttle.failed(keys)
        log.warning("wrong setup code from %s", address)
        raise Unauthorized("that is not the setup code shown in the server's console")
    user = await users.create_first_user(username, password)
    log.warning("installation claimed by %r from %s", user.username, address)
    return _ticket(user.username)


def redeem(ticket: str) -> str | None:
    """The signed-in name a ticket was issued for, once, within TICKET_TTL_S; None otherwise."""
    now = time.monotonic()
    _sweep(now)
    who, until = _tickets.pop(ticket, (None, 0.0))
    return who if until >= now else None


def _sweep(now: float) -> None:
    for stale in [t for t, (_, until) in _tickets.items() if until < now]:
        del _tickets[stale]


async def _attempt(
    keys: list[str], check: Callable[[], Awaitable[str | None]], what: str, forget: str | None = None
) -> str:
    """Counted as a failure before the check and taken back if it succeeds, so attempts racing in
    parallel are throttled too (at most `free` + 1 of them are checked)."""
    global _checking
    _refuse_while_throttled(keys)
    if _checking >= MAX_CHECKS:
        raise TooManyAttempts(1)  # hashing is saturated: nobody's attempt queues without bound
    throttle.failed(keys)
    _checking += 1
    try:
        who = await check()
    finally:
        _checking -= 1
    if who is None:
        log.warning("failed sign-in with %s from %s", what, keys[0].removeprefix("address:"))
        raise Unauthorized("wrong username or password" if forget else "that is not the API key")
    for key in keys:
        throttle.succeeded(key)
    if forget:
        throttle.forget(forget)
    return _ticket(who)


def _address_key(address: str) -> str:
    """An IPv4 address, or an IPv6 address's /64: one client commonly holds a whole /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"address:{address}"
    if ip.version == 6:
        return f"address:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"address:{ip}"


def _refuse_while_throttled(keys: list[str]) -> None:
    wait = throttle.wait_s(keys)
    if wait > 0:
        raise TooManyAttempts(wait)


def _ticket(who: str) -> str:
    now = time.monotonic()
    _sweep(now)
    ticket = secrets.token_urlsafe(32)
    _tickets[ticket] = (who, now + TICKET_TTL_S)
    return ticket
