"""Signing in to the dashboard: attempts throttled per client address, per username from that
address, and per username from anywhere without locking its owner out (see _admit; a browser that
signed in as the user before carries a mark of it, `browser_mark`, and is held back by none of the
guesses made elsewhere); a success is a
one-time ticket that the browser redeems over plain HTTP for a session token in a new cookie
(so a cookie planted before sign-in never becomes a signed-in one). Tickets and sessions are rows
of `web_sessions` holding a hash of their token: any web process can redeem and check them, and
signing out deletes the row, so a copy of the cookie is worthless afterwards."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from models import WebSession
from services import apikey, team, users
from services.errors import Conflict, InvalidInput, TooManyAttempts, Unauthorized
from services.throttle import Throttle
from settings import get_settings
from texts import say

log = logging.getLogger(__name__)

TICKET_TTL_S = 30
MAX_CHECKS = 16  # passwords being checked at once, in all
UNTRIED_EVERY_S = 60  # while a username is slowed: one attempt at it this often from addresses untried
throttle = Throttle()
untried = Throttle(free=0, base_s=UNTRIED_EVERY_S, most_s=UNTRIED_EVERY_S)
_checking = 0


async def with_password(username: str, password: str, address: str, mark: str | None = None) -> str:
    """A ticket for the user, or Unauthorized / TooManyAttempts. `mark`: the browser's mark of a
    sign-in as someone before (its cookie): if it is this user's, the attempt is throttled by the
    address and the username from that address only, not by the username's failures elsewhere, so
    however many addresses guess at a username, its owner's own browser still signs in."""
    name = username.strip()[:100]

    async def check() -> str | None:
        return name if await users.authenticate(name, password) else None

    keys = _keys(address, name)
    if mark and hmac.compare_digest(mark, browser_mark(name)):
        keys = keys[:2]
    return await _attempt(keys, check, f"user {name!r}", say("wrong username or password"))


def browser_mark(username: str) -> str:
    """What a browser that signed in as `username` keeps (a cookie) to be told from a guesser's:
    nobody without the server's secret can make it."""
    message = b"signed in before as " + username.strip().casefold().encode()
    return hmac.new(users.session_secret().encode(), message, hashlib.sha256).hexdigest()


def _keys(address: str, username: str) -> list[str]:
    """What a password attempt is throttled by: the client's address (guessing many usernames), the
    username from that address, and the username from anywhere (guessing from many addresses)."""
    at = _address_key(address)
    return [at, f"pair:{username.casefold()}@{at}", f"user:{username.casefold()}"]


async def with_key(key: str, address: str) -> str:
    async def check() -> str | None:
        return users.KEY_USER if apikey.is_valid(key.strip()) else None

    return await _attempt([_address_key(address)], check, "the API key", say("that is not the API key"))


async def claim(code: str, username: str, password: str, address: str) -> str:
    """Create the first user with the setup code and sign them in; a wrong code counts as a failure."""
    keys = [_address_key(address)]
    _refuse_while_throttled(keys)
    if not users.is_setup_code(code or ""):
        throttle.failed(keys)
        log.warning("wrong setup code from %s", address)
        raise Unauthorized(say("that is not the setup code shown in the server's console"))
    user = await users.create_first_user(username, password)
    log.warning("installation claimed by %r from %s", user.username, address)
    return await _ticket(user.username)


async def join(token: str, username: str, password: str, address: str) -> str:
    """Create a user with an invitation link and sign them in. Each attempt counts as a failed
    sign-in of the address until it succeeds (so links cannot be guessed, nor joins sent, at speed),
    and hashes a password only within the bound on checks at once."""
    keys = [_address_key(address)]
    _refuse_while_throttled(keys)
    throttle.failed(keys)
    with _one_check():
        user = await team.join(token, username, password)
    throttle.succeeded(keys[0])
    log.warning("user %r (%s) joined by invitation from %s", user.username, user.role, address)
    return await _ticket(user.username)


async def redeem(ticket: str) -> str | None:
    """A session token for a ticket issued within TICKET_TTL_S, once; None otherwise."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    redeemed = await WebSession.filter(token_hash=_hash(ticket), pending=True, expires_at__gt=now).update(
        token_hash=_hash(token),
        pending=False,
        expires_at=now + timedelta(seconds=get_settings().session_max_age_s),
    )
    return token if redeemed else None


async def session_user(token: str | None) -> str | None:
    """Who a session token signs in, if it is current."""
    found = await session(token)
    return found[0] if found else None


async def session(token: str | None) -> tuple[str, str] | None:
    """Who a session token signs in and their role, if it is current and they still exist."""
    if not token:
        return None
    now = datetime.now(UTC)
    who = await (
        WebSession.filter(token_hash=_hash(token), pending=False, expires_at__gt=now)
        .first()
        .values_list("username", flat=True)
    )
    # A user removed while signing in may hold a session made after theirs were deleted.
    role = await users.role_of(who) if who is not None else None
    return (who, role) if who is not None and role is not None else None


async def change_password(username: str, current: str, new: str, token: str | None, address: str) -> None:
    """Change a user's password, the current one given (throttled as a sign-in is); the user's other
    sessions end, so a browser someone else had stays out."""
    if username == users.KEY_USER:
        raise Conflict(say("signed in with the API key: there is no password to change"))
    if (problem := users.password_problem(new, "newPassword")) is not None:
        raise InvalidInput(say("the new password cannot be used"), [problem])

    async def check() -> str | None:
        return username if await users.authenticate(username, current) else None

    await _checked(
        _keys(address, username),
        check,
        f"user {username!r} (changing the password)",
        say("the current password is wrong"),
    )
    await users.set_password(username, new)
    await WebSession.filter(username=username).exclude(token_hash=_hash(token or "")).delete()


async def sign_out(token: str | None) -> None:
    if token:
        await WebSession.filter(token_hash=_hash(token)).delete()


async def _attempt(
    keys: list[str], check: Callable[[], Awaitable[str | None]], what: str, refusal: str
) -> str:
    """A sign-in: its ticket once `check` names who it is (see _checked)."""
    return await _ticket(await _checked(keys, check, what, refusal))


async def _checked(
    keys: list[str], check: Callable[[], Awaitable[str | None]], what: str, refusal: str
) -> str:
    """Who `check` says the credentials are, or Unauthorized(refusal). Counted as a failure before
    the check and taken back if it succeeds, so attempts racing in parallel are throttled too (at
    most `free` + 1 of them are checked). `keys[0]` is kept on success (a client's address); the
    others (a username) are forgotten."""
    _admit(keys)
    with _one_check():
        throttle.failed(keys)
        who = await check()
    if who is None:
        log.warning("failed sign-in with %s from %s", what, keys[0].removeprefix("address:"))
        raise Unauthorized(refusal)
    throttle.succeeded(keys[0])
    for key in keys[1:]:
        throttle.forget(key)
        untried.forget(key)
    return who


@contextmanager
def _one_check() -> Iterator[None]:
    """One of the MAX_CHECKS password checks (or hashes) allowed at once; TooManyAttempts past them:
    hashing is saturated, and nobody's attempt queues without bound."""
    global _checking
    if _checking >= MAX_CHECKS:
        raise TooManyAttempts(1)
    _checking += 1
    try:
        yield
    finally:
        _checking -= 1


def _address_key(address: str) -> str:
    """An IPv4 address, or an IPv6 address's /64: one client commonly holds a whole /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"address:{address}"
    if ip.version == 6:
        return f"address:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"address:{ip}"


def _refuse_while_throttled(keys: list[str], by: Throttle | None = None) -> None:
    wait = (by or throttle).wait_s(keys)
    if wait > 0:
        raise TooManyAttempts(wait)


def _admit(keys: list[str]) -> None:
    """TooManyAttempts unless an attempt with `keys` (an address, then maybe a username from it and
    the username from anywhere: _keys) may be checked now. A username slowed by failures from
    elsewhere does not keep its owner out: an address that has not failed at it is let through,
    but only one such address every UNTRIED_EVERY_S, so guessing from many addresses stays slow;
    an address that has failed at it waits for the username as well."""
    _refuse_while_throttled(keys[:2])
    if len(keys) < 3 or (wait := throttle.wait_s(keys[2:])) <= 0:
        return
    if throttle.failures(keys[1]) > 0:  # this address has failed at the username: no way round
        raise TooManyAttempts(wait)
    _refuse_while_throttled(keys[2:], by=untried)
    untried.failed(keys[2:])


async def _ticket(who: str) -> str:
    now = datetime.now(UTC)
    await WebSession.filter(expires_at__lt=now).delete()
    ticket = secrets.token_urlsafe(32)
    await WebSession.create(
        token_hash=_hash(ticket), username=who, expires_at=now + timedelta(seconds=TICKET_TTL_S)
    )
    return ticket


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
