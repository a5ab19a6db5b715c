"""Dashboard sign-in: username and password (argon2), or the API key itself."""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from models.user import User
from services import apikey
from services.errors import Conflict, InvalidInput, Problem

_hasher = PasswordHasher()
MIN_PASSWORD = 8


async def first_run() -> bool:
    """No user exists yet: the login page offers to create the first one."""
    return not await User.exists()


async def create_first_user(username: str, password: str) -> User:
    username = username.strip()
    problems = []
    if not 1 <= len(username) <= 100:
        problems.append(Problem("username", "1 to 100 characters"))
    if len(password) < MIN_PASSWORD:
        problems.append(Problem("password", f"at least {MIN_PASSWORD} characters"))
    if problems:
        raise InvalidInput("the user cannot be created", problems)
    if not await first_run():
        raise Conflict("the first user exists already; sign in")
    return await User.create(username=username, password_hash=_hasher.hash(password))


async def authenticate(username: str, password: str) -> bool:
    """Whether the password is the user's; as slow for an unknown user as for a known one."""
    user = await User.get_or_none(username=username.strip())
    stored = user.password_hash if user else _DUMMY
    try:
        _hasher.verify(stored, password)
    except VerificationError:
        return False
    return user is not None


_DUMMY = _hasher.hash("not a password of anyone")


def session_secret() -> str:
    """Signs the dashboard's session cookie; derived from the API key, so changing the key signs
    everybody out."""
    return hmac.new(apikey.api_key().encode(), b"dashboard sessions", hashlib.sha256).hexdigest()
