"""Which encoding an uploaded CSV file is in, as spreadsheets save them: UTF-8 with or without a
byte-order mark ("CSV UTF-8"), UTF-16 ("Unicode text"), or a Windows code page (Russian Excel's
plain "CSV" is Windows-1251). The text is read in that encoding; nothing is converted in place.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from typing import BinaryIO

from charset_normalizer import from_bytes

from services.errors import InvalidInput, Problem
from texts import N_, say

HEAD_BYTES = 64 * 1024  # what the encoding is told from
SCAN_BYTES = 64 * 1024  # read at a time looking past a plain ASCII start (memory stays small)
_NOT_ASCII = re.compile(rb"[\x80-\xff]")
# The single-byte encodings a file that is not UTF-8 may be in, among which the detector chooses:
# those of Cyrillic text first (Windows, DOS, KOI8), then Western European.
CANDIDATES = ["utf_16", "utf_16_le", "utf_16_be", "cp1251", "cp866", "koi8_r", "cp1252"]
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
UNKNOWN = N_("the file's encoding is not recognised: save it as CSV UTF-8")


def detect(head: bytes, declared: str | None = None) -> str:
    """The codec of a file starting with `head` (its first HEAD_BYTES, or all of a shorter file): a
    byte-order mark's, else the one `declared` (a Content-Type's charset: see `declared_in`), else
    told from the bytes."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(UTF16_BOMS):
        return "utf-16"
    if declared == "utf-16":  # its byte order is told by a byte-order mark only
        raise InvalidInput(
            say("charset utf-16 needs a byte-order mark at the start of the body"),
            [Problem("Content-Type", say("name the byte order: charset=utf-16le or charset=utf-16be"))],
        )
    if declared:
        return declared
    if _is_utf8(head):
        return "utf-8"
    best = from_bytes(head, cp_isolation=CANDIDATES).best()
    if best is None:
        raise InvalidInput(say(UNKNOWN), [Problem("file", say("not text in UTF-8, UTF-16 or Windows-1251"))])
    return best.encoding


# The charsets a client may declare: text encodings of spreadsheets' files (Python's names).
DECLARABLE = {
    "ascii",
    "utf-8",
    "utf-8-sig",
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "cp1251",
    "cp866",
    "koi8-r",
    "cp1252",
    "iso8859-1",
}


def declared_in(content_type: str | None) -> str | None:
    """The codec a Content-Type header names (`text/csv; charset=windows-1251`), or None; a charset
    that is not one of DECLARABLE is InvalidInput."""
    params = (content_type or "").split(";")[1:]
    charset = next(
        (p.split("=", 1)[1].strip().strip('"') for p in params if p.strip().lower().startswith("charset=")),
        None,
    )
    if not charset:
        return None
    try:
        codec = codecs.lookup(charset[:40]).name
    except LookupError:
        codec = None
    if codec not in DECLARABLE:
        problem = say("one of UTF-8, UTF-16, Windows-1251, CP866, KOI8-R, Windows-1252, ISO-8859-1")
        raise InvalidInput(
            say("charset {name} is not one we read", name=charset[:40]), [Problem("Content-Type", problem)]
        )
    return codec


def _is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Cut inside a character at its end: the rest of it follows (or the file is cut short, which
        # reading it will tell).
        return exc.reason == "unexpected end of data"
    return True


def detect_in(file: BinaryIO, declared: str | None = None) -> str:
    """`detect` for a file, left where it was. A file that can seek and whose first HEAD_BYTES are
    plain ASCII (numbers and Latin names first, Cyrillic further down) is told by the HEAD_BYTES
    from its first byte that is not: all of it before is the same in every encoding we read."""
    head = head_of(file)
    if declared or not head.isascii() or not file.seekable():
        return detect(head, declared)
    at = file.tell()
    try:
        while chunk := file.read(SCAN_BYTES):
            if found := _NOT_ASCII.search(chunk):
                window = chunk[found.start() :]
                return detect(window + file.read(max(0, HEAD_BYTES - len(window))))
        return "utf-8"
    finally:
        file.seek(at)


def head_of(file: BinaryIO) -> bytes:
    """The file's first bytes, left to be read again: by seeking back, or from a buffered reader's
    buffer (it must hold HEAD_BYTES)."""
    if file.seekable():
        at = file.tell()
        head = file.read(HEAD_BYTES)
        file.seek(at)
        return head
    assert isinstance(file, io.BufferedReader), "a file that cannot seek is read through a buffer"
    return file.peek(HEAD_BYTES)[:HEAD_BYTES]


def text_lines(file: BinaryIO, codec: str) -> Iterator[str]:
    """Lines of the file's text in `codec` (see `detect`; a byte-order mark is dropped); a byte that
    the encoding cannot have is InvalidInput. The file is left open (it may be read again): close
    this with contextlib.closing."""
    text = io.TextIOWrapper(file, encoding=codec, newline="")
    try:
        for line in text:  # noqa: UP028 - `yield from` would close the file when this closes
            yield line
    except UnicodeDecodeError as exc:
        named = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "utf-16": "UTF-16"}.get(codec, codec)
        raise InvalidInput(
            say("the file is not {named} text throughout: save it as CSV UTF-8", named=named),
            [Problem("file", f"{exc.reason} ({exc.encoding})")],
        ) from None
    finally:
        text.detach()
