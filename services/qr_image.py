"""The pairing QR code as an image (segno), for the API and the dashboard."""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno

from models import Account
from services.errors import NotFound


@dataclass(frozen=True)
class Image:
    content: bytes
    media_type: str


MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


def render(account: Account, kind: str) -> Image:
    if not account.qr_code:
        raise NotFound(f"account {account.id!r} has no QR code now (status {account.status})")
    buffer = io.BytesIO()
    segno.make_qr(account.qr_code, error="l").save(buffer, kind=kind, scale=6, border=2)
    return Image(buffer.getvalue(), MEDIA_TYPES[kind])
