"""Audiences: recipient lists kept as the file brought them, with a name and tags, to use again in
the wizard; and the upload of a user's wizard draft (an audience without a name), so that a reload
of the page keeps it.

An audience holds the wizard's Table (services/recipient_files/wizard_table.py) as stored bytes:
the CSV as it came, zlib-compressed (a CSV of numbers and messages shrinks to a fifth or less),
compressed and expanded off the event loop. A user has at most one unnamed upload: a new one
replaces it.

An audience's rows never change (only its name and tags do), so a Table is read once per process:
every page showing the same audience while one still holds its Table gets that one (`_tables`), not
a copy each (a million rows are some 60 MB)."""

from __future__ import annotations

import asyncio
import weakref
import zlib
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models import Audience
from models.ids import could_be_id
from services import names
from services.errors import InvalidInput, NotFound, Problem
from services.recipient_files.wizard_table import Table
from texts import say

MAX_TAGS = 20
TAG_LENGTH = 50
NAME_LENGTH = 200
_tables: weakref.WeakValueDictionary[str, Table] = weakref.WeakValueDictionary()
LISTED = ("id", "name", "tags", "owner", "file_name", "columns", "row_count", "size", "created_at")


@dataclass(frozen=True)
class Listed:
    """An audience as lists show it (without its rows)."""

    id: str
    name: str
    tags: list[str]
    owner: str
    file_name: str
    columns: list[str]
    row_count: int
    size: int
    created_at: datetime


async def keep_upload(owner: str, file_name: str, table: Table) -> str:
    """Store the table of `owner`'s wizard draft (their previous unnamed upload goes); its id."""
    content = await asyncio.to_thread(zlib.compress, table.text, 1)
    async with in_transaction() as conn:
        await drop_upload(owner, conn)
        audience = await Audience.create(
            owner=owner,
            file_name=file_name[:255],
            columns=table.columns,
            row_count=table.count,
            codec=table.codec,
            delimiter=table.delimiter,
            skip=table.skip,
            size=len(table.text),
            content=content,
            using_db=conn,
        )
    _tables[audience.id] = table
    return audience.id


async def drop_upload(owner: str, conn: BaseDBAsyncClient | None = None) -> None:
    """Delete `owner`'s upload not saved as an audience (their wizard draft's), if any."""
    await Audience.filter(owner=owner, name__isnull=True).using_db(conn).delete()


async def table_of(audience_id: str, user: str) -> tuple[Table, str | None]:
    """An audience's rows and name, or those of `user`'s own upload (no name)."""
    found = await _visible(audience_id, user).values_list("name", flat=True)
    if not found:
        raise _no_such(audience_id)
    return _tables.get(audience_id) or await _read(audience_id), found[0]


async def _read(audience_id: str) -> Table:
    """The audience's stored rows, expanded, and kept for the pages that show them (`_tables`)."""
    audience = await Audience.get_or_none(id=audience_id)
    if audience is None:  # deleted meanwhile
        raise _no_such(audience_id)
    text = await asyncio.to_thread(zlib.decompress, audience.content)
    table = Table(
        audience.columns, text, audience.delimiter, audience.row_count, audience.skip, audience.codec
    )
    return _tables.setdefault(audience_id, table)


async def save(audience_id: str, name: str, tags: list[str], user: str) -> Listed:
    """Name `user`'s upload (it becomes an audience, kept until deleted), or rename and retag an
    audience."""
    values = {"name": _name(name), "tags": _tags(tags)}
    if not await _visible(audience_id, user).update(**values):
        raise _no_such(audience_id)
    return await get(audience_id, user)


async def get(audience_id: str, user: str) -> Listed:
    """An audience, or `user`'s own upload, as lists show it."""
    rows = await _visible(audience_id, user).values(*LISTED)
    if not rows:
        raise _no_such(audience_id)
    return Listed(**rows[0])


def _visible(audience_id: str, user: str) -> QuerySet[Audience]:
    """The audience `audience_id` if it is one (named), or if it is `user`'s upload: an upload not
    saved as an audience is its user's alone."""
    if not could_be_id(audience_id):
        return Audience.filter(id__in=[])
    return Audience.filter(Q(name__isnull=False) | Q(owner=user), id=audience_id)


async def saved(search: str = "", tag: str = "") -> list[Listed]:
    """The audiences (named uploads), the newest first; those whose name has `search` in it and
    that carry `tag`, if given."""
    rows = await Audience.filter(name__isnull=False).order_by("-created_at").values(*LISTED)
    wanted = search.strip().casefold()
    # Here, not in SQL: tags are JSON, and SQLite's LIKE ignores the case of ASCII letters only.
    listed = [Listed(**r) for r in rows]
    return [a for a in listed if wanted in a.name.casefold() and (not tag or tag in a.tags)]


async def tags() -> list[str]:
    """Every tag some audience carries, sorted."""
    every = await Audience.filter(name__isnull=False).values_list("tags", flat=True)
    return sorted({t for carried in every for t in carried}, key=str.casefold)


async def delete(audience_id: str, user: str) -> None:
    """Delete an audience; contracts made from it keep their recipients."""
    if not await _visible(audience_id, user).delete():
        raise _no_such(audience_id)


def _no_such(audience_id: str) -> NotFound:
    return NotFound(say("no audience {id}", id=audience_id))


def _name(name: str) -> str:
    return names.checked(name, "name", NAME_LENGTH, say("the audience cannot be saved"))


def _tags(tags: list[str]) -> list[str]:
    """Tags stripped, each once (the first spelling kept), at most MAX_TAGS of TAG_LENGTH each."""
    kept: dict[str, str] = {}
    for tag in (t.strip() for t in tags):
        if tag:
            kept.setdefault(tag.casefold(), tag)
    found = (names.problem(tag, "tags", TAG_LENGTH) for tag in kept.values())
    problems = [Problem(p.field, p.message, index=i) for i, p in enumerate(found) if p is not None]
    if len(kept) > MAX_TAGS:
        problems.append(Problem("tags", say("at most {most} tags", most=MAX_TAGS)))
    if problems:
        raise InvalidInput(say("the audience cannot be saved"), problems)
    return list(kept.values())
