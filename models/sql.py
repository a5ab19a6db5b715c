"""Raw SQL for the few statements the ORM cannot express, written once for SQLite and PostgreSQL."""

from __future__ import annotations

import enum
import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

T = TypeVar("T")
LIST_CHUNK = 500  # values bound in one statement's IN list: well under any database's limit


def chunked(items: Sequence[T], size: int = LIST_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices small enough to bind in one statement."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _placeholders(sql: str, dialect: str) -> str:
    """`?` placeholders as the database takes them. A type given to one (`?::bigint`, which a
    VALUES list needs on PostgreSQL, where its parameters would otherwise be text) is dropped for
    SQLite, which stores what it is given."""
    if dialect != "postgres":
        return re.sub(r"::\w+", "", sql)
    counter = itertools.count(1)
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


async def execute(sql: str, params: list[Any], conn: BaseDBAsyncClient | None = None) -> list[dict]:
    """Run `sql` written with `?` placeholders; returns the rows (for SELECT or RETURNING)."""
    conn = conn or connections.get("default")
    _, rows = await conn.execute_query(_placeholders(sql, conn.capabilities.dialect), params)
    return [dict(r) for r in rows]


async def changed(sql: str, params: list[Any], conn: BaseDBAsyncClient | None = None) -> int:
    """Run an UPDATE, INSERT or DELETE written with `?` placeholders; how many rows it changed."""
    conn = conn or connections.get("default")
    count, _ = await conn.execute_query(_placeholders(sql, conn.capabilities.dialect), params)
    return count


async def returning(sql: str, params: list[Any], conn: BaseDBAsyncClient) -> list[dict]:
    """Run an UPDATE … RETURNING written with `?` placeholders; the rows it changed, as it returned
    them (the ORM's client returns no rows for an UPDATE on PostgreSQL)."""
    sql = _placeholders(sql, conn.capabilities.dialect)
    if conn.capabilities.dialect != "postgres":
        _, rows = await conn.execute_query(sql, params)
        return [dict(r) for r in rows]
    async with conn.acquire_connection() as raw:
        return [dict(r) for r in await raw.fetch(sql, *params)]


def values_list(rows: Sequence[Sequence[object]], types: Sequence[str]) -> tuple[str, list[Any]]:
    """A VALUES list of `rows` (its columns column1, column2, … on either database), each column
    typed for PostgreSQL, and its parameters as the ORM would store them."""
    row = "(" + ", ".join(f"?::{t}" for t in types) + ")"
    return "VALUES " + ", ".join([row] * len(rows)), [_stored(v) for r in rows for v in r]


async def update_from(
    table: str,
    keys: Sequence[str],
    sets: str,
    rows: Sequence[Sequence[object]],
    types: Sequence[str],
    conn: BaseDBAsyncClient,
) -> int:
    """UPDATE `table`'s rows whose `keys` equal the first values of each of `rows`, setting `sets`,
    which names the rest of a row's values v.column<n>. Sort `rows`: where the plan follows the
    list (an index nested loop, as for a few rows), that is the order the rows are locked in. How
    many rows it changed."""
    sql, params = _update_from(table, keys, sets, rows, types)
    return await changed(sql, params, conn)


async def update_from_returning(
    table: str,
    keys: Sequence[str],
    sets: str,
    rows: Sequence[Sequence[object]],
    types: Sequence[str],
    conn: BaseDBAsyncClient,
    columns: Sequence[str],
) -> list[dict]:
    """`update_from`, returning the `columns` of each row it changed as they are after it."""
    sql, params = _update_from(table, keys, sets, rows, types)
    listed = ", ".join(f"{table}.{column}" for column in columns)
    return await returning(f"{sql} RETURNING {listed}", params, conn)


def _update_from(
    table: str, keys: Sequence[str], sets: str, rows: Sequence[Sequence[object]], types: Sequence[str]
) -> tuple[str, list[Any]]:
    values, params = values_list(rows, types)
    match = " AND ".join(f"{table}.{key} = v.column{i}" for i, key in enumerate(keys, 1))
    return f"UPDATE {table} SET {sets} FROM ({values}) AS v WHERE {match}", params


def marks(values: Sequence[object]) -> str:
    """The placeholders of an IN list of `values`."""
    return ", ".join("?" * len(values))


def assignments(values: Mapping[str, object]) -> tuple[str, list[Any]]:
    """`col = ?, …` and its parameters, as the ORM would store them (enums by value, JSON as text)."""
    params = [_stored(v) for v in values.values()]
    return ", ".join(f"{column} = ?" for column in values), params


def _stored(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


async def insert_rows(table: str, columns: list[str], rows: list[tuple], conn: BaseDBAsyncClient) -> None:
    """Bulk insert plain tuples: COPY on PostgreSQL, executemany on SQLite (no model objects)."""
    async with conn.acquire_connection() as raw:
        if conn.capabilities.dialect == "postgres":
            await raw.copy_records_to_table(table, records=rows, columns=columns)
        else:
            marks = ", ".join("?" * len(columns))
            await raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


async def refresh_statistics(table: str) -> None:
    """Have PostgreSQL sample `table` now rather than when autovacuum next wakes: after a bulk load its
    planner still believes the table small and sorts a million rows for a page of a hundred."""
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script(f"ANALYZE {table}")
