"""What the network does to an account (rate limits, disconnects), counted per account and minute
where it happens, for the health rules (services/account_health.py)."""

from __future__ import annotations

from datetime import datetime

from models import Signal
from models.sql import execute


async def record(account_id: str, kind: Signal, at: datetime) -> None:
    """Add one to the account's count of `kind` for the minute of `at` (nothing for an account deleted
    meanwhile)."""
    minute = at.replace(second=0, microsecond=0)
    await execute(
        "INSERT INTO account_signals (account_id, minute, kind, n) SELECT ?, ?, ?, 1 "
        "WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?) "
        "ON CONFLICT (account_id, minute, kind) DO UPDATE SET n = account_signals.n + 1",
        [account_id, minute, kind.value, account_id],
    )
