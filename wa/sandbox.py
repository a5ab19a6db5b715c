"""The simulated WhatsApp network: configurable latency and failures, de-duplication by message id.

Deliveries are recorded in the database (table sandbox_deliveries), so they survive any crash or a
Redis flush and a test can count deliveries per recipient afterwards.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, Field

from models import Account, AccountStatus, SandboxDelivery
from models.db import is_unavailable
from models.group_commit import GroupCommit
from models.sql import execute
from texts import N_, say
from wa.sender import (
    AccountUnavailable,
    Message,
    NotOnWhatsApp,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from wa.transport import Pairing, TransportSpec

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
    # Faults of the account itself, counted in its deliveries: for failover and health rules.
    banned_after: int | None = Field(None, ge=0, description="deliveries before WhatsApp bans it")
    rate_limited_after: int | None = Field(None, ge=1, description="deliveries before it is rate-limited")
    rate_limited_for_s: float = Field(60, ge=0, le=86400, description="how long the rate limit lasts")
    disconnected_after: int | None = Field(None, ge=1, description="deliveries before it is disconnected")
    disconnected_for_s: float = Field(60, ge=0, le=86400, description="how long the disconnect lasts")


def _drawn(message_id: str, salt: str, rate: float) -> bool:
    """Whether this message falls in the `rate` share (the same on every attempt and in every process)."""
    return rate > 0 and zlib.crc32(f"{salt}:{message_id}".encode()) / 0xFFFFFFFF < rate


class SandboxSender:
    def __init__(self, account_id: str, config: dict[str, Any] | None = None, paced: bool = False) -> None:
        self.account_id, self.paced = account_id, paced
        self.config = SandboxConfig.model_validate(config or {})
        self.not_on_whatsapp = set(self.config.not_on_whatsapp)
        self.invalid = set(self.config.invalid)
        self.transient = set(self.config.transient)

    async def show_typing(self, phone: str, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def send(self, phone: str, text: str, message_id: str, attempt: int) -> None:
        (error,) = await self.send_many([Message(phone, text, message_id, attempt)])
        if error is not None:
            raise error

    async def send_many(self, messages: list[Message]) -> list[SendError | None]:
        room, refusal = await self._account_room()
        results: list[SendError | None] = []
        for m in messages:
            if refusal is not None and room <= 0:
                results.append(refusal)  # the account itself is refused: so is the rest of the batch
                continue
            if self.config.latency_s:
                await asyncio.sleep(random.uniform(0.5, 1.5) * self.config.latency_s)
            fate = self._fate(m)
            room -= fate is None
            results.append(fate)
        delivered = [m for m, error in zip(messages, results, strict=True) if error is None]
        if delivered:
            try:
                await record_deliveries(self.account_id, delivered, grouped=self.paced)
            except Exception as exc:
                if not is_unavailable(exc):  # the simulated network keeps its log in the database
                    raise
                lost = TransientSendError(say("sandbox network unavailable: {error}", error=str(exc)))
                results = [lost if error is None else error for error in results]
        return results

    async def _account_room(self) -> tuple[int, AccountUnavailable | None]:
        """How many more deliveries the simulated network takes from the account before it refuses
        the account itself (banned, rate-limited, disconnected), and that refusal; (0, None) when it
        never will."""
        cfg = self.config
        limited, cut = AccountStatus.CONNECTED, AccountStatus.DISCONNECTED
        spells = {  # from the account's nth delivery on, for so many seconds
            limited: (
                cfg.rate_limited_after,
                cfg.rate_limited_for_s,
                say("rate-limited by WhatsApp (simulated)"),
            ),
            cut: (
                cfg.disconnected_after,
                cfg.disconnected_for_s,
                say("disconnected from WhatsApp (simulated)"),
            ),
        }
        if cfg.banned_after is None and all(after is None for after, _, _ in spells.values()):
            return 0, None
        delivered = await self._delivered()
        faults: list[tuple[int, AccountUnavailable]] = []
        if cfg.banned_after is not None:
            banned = AccountUnavailable(AccountStatus.BANNED, say("banned by WhatsApp (simulated)"))
            faults.append((cfg.banned_after - delivered, banned))
        for status, (after, lasts_s, what) in spells.items():
            room = await self._room_before(after, lasts_s, delivered)
            if room is not None:
                faults.append((room, AccountUnavailable(status, what)))
        return min(faults, key=lambda fault: fault[0]) if faults else (0, None)

    async def disconnected(self) -> bool:
        """Whether the simulated network holds the account disconnected now."""
        cfg = self.config
        if cfg.disconnected_after is None:
            return False
        delivered = await self._delivered()
        return await self._room_before(cfg.disconnected_after, cfg.disconnected_for_s, delivered) == 0

    async def _delivered(self) -> int:
        return await SandboxDelivery.filter(account_id=self.account_id).count()

    async def _room_before(self, nth: int | None, lasts_s: float, delivered: int) -> int | None:
        """A spell of `lasts_s` from the account's nth delivery on (a rate limit, a disconnect): the
        deliveries left before it, 0 during it, None when there is none or it is over."""
        if nth is None:
            return None
        if delivered < nth:
            return nth - delivered
        at = await (
            SandboxDelivery.filter(account_id=self.account_id)
            .order_by("delivered_at", "message_id")
            .offset(nth - 1)
            .first()
            .values_list("delivered_at", flat=True)
        )
        over = at is not None and datetime.now(UTC) - at >= timedelta(seconds=lasts_s)
        return None if over else 0

    def _fate(self, m: Message) -> SendError | None:
        """What the simulated network does with this message on this attempt (None: delivered)."""
        cfg = self.config
        if m.phone in self.not_on_whatsapp or _drawn(m.message_id, "nowa", cfg.not_on_whatsapp_rate):
            return NotOnWhatsApp(m.phone)
        if m.phone in self.invalid or _drawn(m.message_id, "fail", cfg.fail_rate):
            return PermanentSendError(say("Invalid number"))
        transient = m.phone in self.transient or _drawn(m.message_id, "transient", cfg.transient_rate)
        if transient and m.attempt <= cfg.transient_failures:
            return TransientSendError(say("Timed out waiting for the server (simulated)"))
        return None

    async def close(self) -> None:
        return None


async def record_deliveries(account_id: str, messages: list[Message], grouped: bool = False) -> None:
    """Insert the deliveries, or count one more attempt of an id already delivered (de-duplication),
    in one statement; a paced account's message (`grouped`) with the other paced accounts' of the
    moment, in one transaction: a commit for each paced message was most of what the simulated
    network cost the database with thousands of accounts."""
    rows = [(m.message_id, account_id, m.phone) for m in messages]
    if grouped and len(rows) == 1:
        await DELIVERIES(rows[0])
    else:
        await _insert(rows)


async def _insert(rows: list[tuple[str, str, str]]) -> list[None]:
    attempts = Counter(message_id for message_id, _, _ in rows)
    # One row an id (ON CONFLICT takes no repeat), in id order (concurrent upserts lock alike).
    unique = sorted({row[0]: row for row in rows}.values())
    await execute(
        "INSERT INTO sandbox_deliveries (message_id, account_id, phone_number, attempts, delivered_at) "
        f"VALUES {', '.join(['(?, ?, ?, ?, CURRENT_TIMESTAMP)'] * len(unique))} "
        "ON CONFLICT (message_id) DO UPDATE SET attempts = sandbox_deliveries.attempts + excluded.attempts",
        [value for row in unique for value in (*row, attempts[row[0]])],
    )
    return [None] * len(rows)


DELIVERIES: GroupCommit[tuple[str, str, str], None] = GroupCommit(_insert, linger_s=0.05, most=100)


def _sender(account: Account) -> SandboxSender:
    return SandboxSender(account.id, account.sandbox_config, paced=account.use_limits)


async def _reconnected(account: Account) -> bool:
    return not await _sender(account).disconnected()


TRANSPORT = TransportSpec(
    name="sandbox",
    label=N_("Sandbox (simulated, for trying)"),
    icon="science",
    takes_our_ids=True,
    pairing=Pairing.LINK,
    config=SandboxConfig,
    build_sender=_sender,
    reconnected=_reconnected,
    pairing_help=N_(
        "A **sandbox** account pairs like a phone would: scan the code with any phone "
        "camera, or open the link under it. Nothing leaves this server."
    ),
)
