"""The team: users with a role, and the one-time links that invite new ones.

An admin manages accounts, limits and users besides contracts; an operator works with contracts
(and audiences), and cancels or deletes only the contracts they created themselves (an admin, and
the API key, any: users.may_stop). Only an admin invites, changes roles and removes users; the
installation always keeps one admin at least. Changes of role are serialised by a write to the
`installation` row (a row lock on PostgreSQL, the write lock on SQLite), so two admins demoting
each other at once cannot leave nobody in charge."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models import Installation, Invite, User, WebSession
from services import audiences, names, users
from services.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from services.users import ADMIN, ROLES
from texts import say

INVITE_TTL = timedelta(days=7)


async def require_admin(actor: str) -> None:
    if await users.role_of(actor) != ADMIN:
        raise Forbidden(say("only an admin can do that"))


async def members() -> list[User]:
    return await User.all().order_by("username")


def _checked_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(say("no such role"), [Problem("role", say("admin or operator"))])
    return role


async def set_role(actor: str, username: str, role: str) -> None:
    """Give a user another role; an admin made an operator loses the invitations they made."""
    await require_admin(actor)
    role = _checked_role(role)
    async with _while_admins_kept(username) as conn:
        if not await User.filter(username=username).using_db(conn).update(role=role):
            raise NotFound(say("no user {name}", name=username))
        if role != ADMIN:
            await Invite.filter(created_by=username, used_by__isnull=True).using_db(conn).delete()


async def remove(actor: str, username: str) -> None:
    """Remove a user: signed out everywhere at once, their open invitations and their draft's upload
    gone; the audiences they saved stay."""
    await require_admin(actor)
    async with _while_admins_kept(username) as conn:
        if not await User.filter(username=username).using_db(conn).delete():
            raise NotFound(say("no user {name}", name=username))
        await WebSession.filter(username=username).using_db(conn).delete()
        await Invite.filter(created_by=username, used_by__isnull=True).using_db(conn).delete()
        await audiences.drop_upload(username, conn)


@asynccontextmanager
async def _while_admins_kept(username: str) -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction for a change of who is an admin, serialised with every other such change (a
    write of the installation row), that is undone if it would leave no admin."""
    async with in_transaction() as conn:
        await Installation.filter(id=1).using_db(conn).update(claimed_by=F("claimed_by"))
        yield conn
        if not await User.filter(role=ADMIN).using_db(conn).exists():
            raise Conflict(say("{name} is the last admin: make someone else an admin first", name=username))


async def invite(actor: str, role: str, note: str = "") -> str:
    """A new invitation's token (the link holds it; only its hash is stored), good for INVITE_TTL;
    `note`: whom it is for, to tell invitations apart."""
    await require_admin(actor)
    token = secrets.token_urlsafe(24)
    await Invite.create(
        token_hash=_hash(token),
        role=_checked_role(role),
        note=names.checked(note, "note", 200, say("the invitation cannot be made"), least=0),
        created_by=actor,
        expires_at=datetime.now(UTC) + INVITE_TTL,
    )
    return token


async def open_invites() -> list[Invite]:
    """Invitations not used yet that have not expired, the newest first; expired ones are dropped."""
    now = datetime.now(UTC)
    await Invite.filter(expires_at__lt=now).delete()
    return await Invite.filter(used_by__isnull=True).order_by("-created_at")


async def revoke(actor: str, invite_id: int) -> None:
    await require_admin(actor)
    if not await Invite.filter(id=invite_id, used_by__isnull=True).delete():
        raise NotFound(say("no such invitation: it was used or revoked"))


async def invited_role(token: str) -> str | None:
    """The role an invitation link gives, while it is good: not used, revoked or expired, and made
    by someone who is still an admin."""
    found = await (
        Invite.filter(token_hash=_hash(token), used_by__isnull=True, expires_at__gt=datetime.now(UTC))
        .first()
        .values_list("role", "created_by")
    )
    if found is None or await users.role_of(found[1]) != ADMIN:
        return None
    return found[0]


async def join(token: str, username: str, password: str) -> User:
    """The user an invitation creates, using it up in the same transaction (a taken username leaves
    it unused). NotFound when the link is used, revoked or expired, or its maker is an admin no
    more. What is cheap is checked before the password is hashed."""
    username = users.checked_new_user(username, password)
    role = await invited_role(token)
    if role is None:
        raise _used_up()
    taken = Conflict(
        say("the user cannot be created"), [Problem("username", say("looks like an existing user's name"))]
    )
    if await users.looks_taken(username):
        raise taken
    password_hash = await users.hashed(password)
    try:
        async with in_transaction() as conn:
            used = (
                await Invite.filter(
                    token_hash=_hash(token), used_by__isnull=True, expires_at__gt=datetime.now(UTC)
                )
                .using_db(conn)
                .update(used_by=username)
            )
            if not used:  # used, revoked or expired meanwhile
                raise _used_up()
            if await users.looks_taken(username, conn):
                raise taken
            return await User.create(username=username, password_hash=password_hash, role=role, using_db=conn)
    except IntegrityError:
        raise taken from None


def _used_up() -> NotFound:
    return NotFound(say("this invitation is used up, revoked or expired: ask for a new one"))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
