"""JSON bodies checked for what json.loads lets through: `"\\ud800"`, a lone UTF-16 surrogate, is
valid JSON but no character, and a str holding one cannot be encoded (the database driver failed on
it: a 500). Such a body is a 422 naming the field, in every route of the API (their route_class).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from api.errors import field_path
from services.errors import InvalidInput, Problem

# A surrogate as an escape, or as the bytes json.loads reads one from (it decodes "surrogatepass"):
# a body without either needs no walk.
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


class CheckedJson(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            if is_json(request.headers.get("content-type", "")):
                refuse_lone_surrogates(await request.body())  # kept: the handler reads it again
            return await handler(request)

        return checked


def is_json(content_type: str) -> bool:
    """application/json or application/…+json, any parameters: what FastAPI parses as JSON."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def refuse_lone_surrogates(body: bytes) -> None:
    """InvalidInput naming the first key or string of the JSON `body` with a lone surrogate."""
    if json.detect_encoding(body) == "utf-8" and not _SURROGATE.search(body):
        return  # (in UTF-16 or UTF-32 an escaped surrogate is spelled otherwise: those are read)
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return  # not JSON (or nested past what is read): the route says so
    where = _lone_surrogate(value)
    if where is not None:
        field, index = field_path(("body", *where))
        why = "a lone UTF-16 surrogate (\\ud800-\\udfff) is not a character"
        raise InvalidInput(f"{field} is not text: {why}", [Problem(field, why, index)])


def _lone_surrogate(value: Any) -> tuple | None:
    """Where in `value` a str (a key, escaped, or a value) holds a lone surrogate (json.loads joins
    the pairs); depth first, without recursion (JSON may nest deeper than Python's stack)."""
    stack: list[tuple[tuple, Any]] = [((), value)]
    while stack:
        at, value = stack.pop()
        if isinstance(value, str) and not _encodable(value):
            return at
        items = (
            value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        )
        for key, item in reversed(list(items)):
            if isinstance(key, str) and not _encodable(key):
                return (*at, key.encode("utf-8", "backslashreplace").decode())
            stack.append(((*at, key), item))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
