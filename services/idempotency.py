"""Idempotency keys on the create routes: a client that retries with the same `Idempotency-Key`
gets the first answer back instead of a second contract.

The key's row is inserted before the work starts, so of two identical requests racing, the
database lets one run; the other waits for its answer. Only successful answers are kept (a
refused request frees its key for a corrected retry); keys are forgotten after KEEP_FOR.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from models import IdempotencyKey
from services.errors import Conflict, Problem

KEEP_FOR = timedelta(hours=24)
WAIT_S = 120  # how long a retry waits for the first request (a million-row contract takes seconds)


async def once(
    scope: str, key: str, fingerprint: str, run: Callable[[], Awaitable[dict]]
) -> tuple[dict, bool]:
    """The answer of `run()` for this key: run now, or the stored one; and whether it was stored.
    Conflict if the key came with another request, or its first request is still running too long."""
    full_key = f"{scope} {key}"
    await IdempotencyKey.filter(created_at__lt=datetime.now(UTC) - KEEP_FOR).delete()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        try:
            await IdempotencyKey.create(key=full_key, request_hash=fingerprint)
            break  # ours to run
        except IntegrityError:
            first = await IdempotencyKey.get_or_none(key=full_key)
        if first is None:
            continue  # the first request was refused and let the key go: run this one
        if first.request_hash != fingerprint:
            raise Conflict(
                "this Idempotency-Key was used with another request",
                [Problem("Idempotency-Key", "already used with a different body or parameters")],
            )
        if first.response is not None:
            return first.response, True
        if first.created_at < datetime.now(UTC) - timedelta(seconds=WAIT_S):
            # Its request died without an answer (a crash): let this one run instead.
            await IdempotencyKey.filter(
                key=full_key, response__isnull=True, created_at=first.created_at
            ).delete()
            continue
        if loop.time() > deadline:
            raise Conflict(
                "a request with this Idempotency-Key is still running; retry later",
                [Problem("Idempotency-Key", "in progress")],
            )
        await asyncio.sleep(0.05)
    try:
        answer = await run()
        await IdempotencyKey.filter(key=full_key).update(response=answer)
    except BaseException:
        await IdempotencyKey.filter(key=full_key, response__isnull=True).delete()
        raise
    return answer, False
