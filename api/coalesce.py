"""Identical reads that arrive while one is being answered share its answer.

Dashboards poll the same counters; under load many identical `GET /api/...` requests are in flight
at once, and each used to run the same queries. Here the first one runs and the others wait for its
response. Nothing is cached beyond the request in flight, and a write answered by this process
(POST, PUT, DELETE) starts a new generation: a read that begins after a client saw its write
succeed never joins a read that began before it (read-your-writes holds).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
AUTH_HEADERS = (b"x-api-key", b"authorization")


class CoalesceReads:
    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix
        self.generation = 0
        self.in_flight: dict[tuple, asyncio.Future[list[Message]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["method"] in WRITES:
            await self.app(scope, receive, self._bump_on_answer(send))
        elif scope["method"] == "GET" and scope["path"].startswith(self.prefix):
            await self._read(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _bump_on_answer(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.generation += 1  # the write is committed: later reads must not join older ones
            await send(message)

        return sending

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        auth = tuple(headers.get(h) for h in AUTH_HEADERS)
        key = (scope["path"], scope["query_string"], auth, self.generation)
        leader = self.in_flight.get(key)
        if leader is not None:
            try:
                messages = await asyncio.shield(leader)
            except Exception:  # noqa: BLE001  (the first one failed: answer this one on its own)
                await self.app(scope, receive, send)
                return
            for message in messages:
                await send(message)
            return
        future: asyncio.Future[list[Message]] = asyncio.get_running_loop().create_future()
        self.in_flight[key] = future
        messages: list[Message] = []

        def release(exc: BaseException) -> None:
            """Let whoever waits on this read run on their own, and let nobody else join it."""
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning when nobody joined
            if self.in_flight.get(key) is future:
                del self.in_flight[key]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start" and not _has_length(message):
                # A stream (server-sent events, a CSV export) is neither held in memory to be
                # shared nor made to wait for: identical streams each get their own, at once.
                release(RuntimeError("streamed"))
            if not future.done():
                messages.append(message)
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException as exc:
            release(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            raise
        else:
            if not future.done():
                future.set_result(messages)
        finally:
            if self.in_flight.get(key) is future:
                del self.in_flight[key]


def _has_length(start: Message) -> bool:
    return any(name.lower() == b"content-length" for name, _ in start.get("headers", []))
