"""Dashboard users: the first one claims a fresh installation; passwords are argon2 hashes.

Hashing is slow on purpose (and takes 64 MiB each), so it runs in threads, a few at a time, never on
the event loop that answers everyone else."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.user import Installation, User
from services import apikey, names, timezones
from services.errors import Conflict, Forbidden, InvalidInput, Problem
from texts import LANGUAGES, N_, say

T = TypeVar("T")
_hasher = PasswordHasher()
_hashing = asyncio.Semaphore(2)
ADMIN, OPERATOR = "admin", "operator"
ROLES = (ADMIN, OPERATOR)
KEY_USER = N_("admin (API key)")  # who signed in with the API key: an admin with no password
MIN_PASSWORD = 8
MAX_PASSWORD = 1000


async def first_run() -> bool:
    """No user exists yet: the login page offers to claim the installation."""
    return not await Installation.exists() and not await User.exists()


def setup_code() -> str:
    """The one-time code that claims a fresh installation, printed on the web process's console at
    start (derived from the API key, so every web process knows it and none stores it)."""
    digest = hmac.new(apikey.api_key().encode(), b"first user setup", hashlib.sha256).hexdigest()
    return "-".join(digest[i : i + 4] for i in range(0, 12, 4))


def is_setup_code(candidate: str) -> bool:
    """The setup code (dashes and case ignored) or the API key itself, compared in constant time."""
    typed = candidate.strip()
    code = setup_code().replace("-", "")
    return hmac.compare_digest(typed.replace("-", "").lower().encode(), code.encode()) or apikey.is_valid(
        typed
    )


async def create_first_user(username: str, password: str) -> User:
    """The first user; exactly one however many try at once (Installation's primary key decides)."""
    username = checked_new_user(username, password)
    if not await first_run():
        raise Conflict(say("the first user exists already; sign in"))
    password_hash = await hashed(password)
    try:
        async with in_transaction() as conn:
            await Installation.create(id=1, claimed_by=username, using_db=conn)
            return await User.create(
                username=username, password_hash=password_hash, role=ADMIN, using_db=conn
            )
    except IntegrityError:
        raise Conflict(say("the first user exists already; sign in")) from None


def checked_new_user(username: str, password: str) -> str:
    """The username, stripped, if it and the password may make a user; else InvalidInput naming each
    problem: a name (services/names.py) whose letters are of one alphabet. (The name "admin (API
    key)" is the API key's, taken.) Whether it looks like another user's: looks_taken."""
    username = username.strip()
    problems = []
    if (problem := names.problem(username, "username", 100)) is not None:
        problems.append(problem)
    elif names.mixes_scripts(username):
        problems.append(
            Problem("username", say("letters of one alphabet: Latin, Cyrillic or Greek, not mixed"))
        )
    elif names.skeleton(username) == names.skeleton(KEY_USER):
        problems.append(Problem("username", say("that username is taken")))
    if (problem := password_problem(password)) is not None:
        problems.append(problem)
    if problems:
        raise InvalidInput(say("the user cannot be created"), problems)
    return username


async def looks_taken(username: str, conn: BaseDBAsyncClient | None = None) -> bool:
    """Whether a user's name looks like `username` (the same, or told apart only by case, width or
    letters of another alphabet drawn alike: services/names.py's skeleton)."""
    wanted = names.skeleton(username)
    taken = await User.all().using_db(conn).values_list("username", flat=True)
    return any(names.skeleton(name) == wanted for name in taken)


async def hashed(password: str) -> str:
    return await _in_thread(_hasher.hash, password)


def password_problem(password: str, field: str = "password") -> Problem | None:
    if MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return None
    return Problem(
        field, say("the password needs {least} to {most} characters", least=MIN_PASSWORD, most=MAX_PASSWORD)
    )


async def set_password(username: str, password: str) -> None:
    """Store a new password (its length checked by the caller: password_problem)."""
    await User.filter(username=username).update(password_hash=await hashed(password))


async def authenticate(username: str, password: str) -> bool:
    """Whether the password is the user's; as slow for an unknown user as for a known one."""
    user = await User.get_or_none(username=username.strip()[:100])
    stored = user.password_hash if user else _DUMMY
    try:
        await _in_thread(_hasher.verify, stored, password[:MAX_PASSWORD])
    except VerificationError:
        return False
    return user is not None


async def _in_thread(fn: Callable[..., T], *args: str) -> T:
    async with _hashing:
        return await asyncio.to_thread(fn, *args)


_DUMMY = _hasher.hash("not a password of anyone")


def session_secret() -> str:
    """Signs the dashboard's session cookie; derived from the API key, so changing the key signs
    everybody out."""
    return hmac.new(apikey.api_key().encode(), b"dashboard sessions", hashlib.sha256).hexdigest()


async def role_of(username: str) -> str | None:
    """The user's role; None for a user who does not exist (any more)."""
    if username == KEY_USER:
        return ADMIN
    return await User.filter(username=username).first().values_list("role", flat=True)


async def may_stop(actor: str, created_by: str | None) -> bool:
    """Whether `actor` may cancel or delete a contract `created_by` created: an admin (and the API
    key) any, an operator their own (not one older than the column, whose creator is unknown)."""
    role = await role_of(actor)
    return role == ADMIN or (role is not None and created_by is not None and created_by == actor)


async def require_may_stop(actor: str, created_by: str | None) -> None:
    if not await may_stop(actor, created_by):
        raise Forbidden(say("an operator can cancel or delete only the contracts they created"))


async def preferences(username: str) -> tuple[str | None, str | None]:
    """The user's chosen language and time zone (None: the browser's)."""
    chosen = await User.filter(username=username).values_list("language", "time_zone")
    return chosen[0] if chosen else (None, None)


async def choose(username: str, language: str | None = None, time_zone: str | None = None) -> None:
    """Remember the user's language or time zone ("" forgets the zone: the browser's again)."""
    values: dict[str, str | None] = {}
    if language is not None:
        if language not in LANGUAGES:
            raise InvalidInput("no such language", [Problem("language", f"one of {', '.join(LANGUAGES)}")])
        values["language"] = language
    if time_zone is not None:
        values["time_zone"] = timezones.shown_in(time_zone, "timeZone").key if time_zone else None
    if values:
        await User.filter(username=username).update(**values)
