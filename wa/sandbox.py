"""The simulated WhatsApp network: configurable latency and failures, de-duplication by message id.

Deliveries are recorded in the database (table sandbox_deliveries), so they survive any crash or a
Redis flush and a test can count deliveries per recipient afterwards.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from typing import Annotated, Any

from pydantic import BaseModel, Field

from models.sql import execute
from services.db import is_unavailable
from wa.base import NotOnWhatsApp, PermanentSendError, TransientSendError

Number = Annotated[str, Field(pattern=r"^[0-9]{5,20}$", description="digits with the country code")]


class SandboxConfig(BaseModel):
    """How this account's simulated network behaves. Random failures are decided per message id, so
    they are the same on every attempt of one message and across worker restarts."""

    latency_s: float = Field(0, ge=0, le=60)
    fail_rate: float = Field(0, ge=0, le=1, description="share of messages failing for good")
    transient_rate: float = Field(0, ge=0, le=1, description="share failing transiently at first")
    not_on_whatsapp_rate: float = Field(0, ge=0, le=1)
    not_on_whatsapp: list[Number] = Field(default_factory=list, description="numbers without WhatsApp")
    invalid: list[Number] = Field(default_factory=list, description="numbers that always fail")
    transient: list[Number] = Field(default_factory=list, description="numbers failing transiently")
    transient_failures: int = Field(1, ge=0, le=10, description="attempts that fail before success")


def _draw(message_id: str, salt: str) -> float:
    return zlib.crc32(f"{salt}:{message_id}".encode()) / 0xFFFFFFFF


class SandboxTransport:
    def __init__(self, account_id: str, config: dict[str, Any] | None = None) -> None:
        self.account_id = account_id
        self.config = SandboxConfig.model_validate(config or {})

    async def show_typing(self, phone: str, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def send(self, phone: str, text: str, message_id: str, attempt: int) -> None:
        cfg = self.config
        if cfg.latency_s:
            await asyncio.sleep(random.uniform(0.5, 1.5) * cfg.latency_s)
        if phone in cfg.not_on_whatsapp or _draw(message_id, "nowa") < cfg.not_on_whatsapp_rate:
            raise NotOnWhatsApp(phone)
        if phone in cfg.invalid or _draw(message_id, "fail") < cfg.fail_rate:
            raise PermanentSendError("Invalid number")
        transient = phone in cfg.transient or _draw(message_id, "transient") < cfg.transient_rate
        if transient and attempt <= cfg.transient_failures:
            raise TransientSendError("Timed out waiting for the server (simulated)")
        try:
            await record_delivery(self.account_id, phone, message_id)
        except Exception as exc:
            if is_unavailable(exc):  # the simulated network keeps its log in the database
                raise TransientSendError(f"sandbox network unavailable: {exc}") from exc
            raise

    async def close(self) -> None:
        return None


async def record_delivery(account_id: str, phone: str, message_id: str) -> None:
    """Insert the delivery, or count one more attempt of an id already delivered (de-duplication)."""
    await execute(
        "INSERT INTO sandbox_deliveries (message_id, account_id, phone_number, attempts, delivered_at) "
        "VALUES (?, ?, ?, 1, CURRENT_TIMESTAMP) "
        "ON CONFLICT (message_id) DO UPDATE SET attempts = sandbox_deliveries.attempts + 1",
        [message_id, account_id, phone],
    )
