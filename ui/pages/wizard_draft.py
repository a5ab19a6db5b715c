"""The new-contract wizard's draft: the contract as its steps so far have made it, remembered for its
user as they go (services/wizard_drafts.py), so that a reload takes up where they were."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from nicegui import background_tasks

from services import wizard_drafts
from services.recipient_files.wizard_table import Report, Table
from settings import get_settings


@dataclass
class Draft:
    owner: str
    account_ids: list[str] = field(default_factory=list)
    table: Table | None = None
    audience_id: str | None = None  # where the table is stored (services/audiences.py)
    audience_name: str | None = None  # once it is saved as an audience
    phone_column: str | None = None
    template: str = ""
    # whose national numbers those without a country code are (services/phones.py)
    region: str = field(default_factory=lambda: get_settings().default_phone_region)
    report: Report | None = None
    zones: dict[str, float] | None = None  # how many of the rows that pass are in each time zone
    leave_out_problem_rows: bool = True
    # Remembering it: one write at a time, the changes made meanwhile waiting for the next.
    _writing: asyncio.Lock = field(default_factory=asyncio.Lock)
    _pending: dict[str, Any] = field(default_factory=dict)
    _writer: bool = False  # a background write is under way

    def set_table(self, table: Table, audience_id: str, audience_name: str | None) -> None:
        self.table, self.audience_id, self.audience_name = table, audience_id, audience_name
        if self.phone_column not in table.columns:
            self.phone_column = table.phone_column()
        self.template = self.template or table.default_template()
        self.report = None

    def set_message(self, phone_column: str | None, template: str) -> None:
        self.phone_column = phone_column
        self.template = template
        self.report = None

    async def remember(self, **values: Any) -> None:
        """Add to what is remembered of the draft (with what waits to be: see remember_soon)."""
        async with self._writing:
            values, self._pending = self._pending | values, {}
            await wizard_drafts.remember(self.owner, **values)

    def remember_soon(self, **values: Any) -> None:
        """remember(), in the background, for handlers that must change the draft before they return:
        one write at a time, the changes made meanwhile (a message typed is one a keystroke) written
        together by the next."""
        self._pending |= values
        if not self._writer:
            self._writer = True
            background_tasks.create(self._write_pending(), name="remember the wizard's draft")

    def remember_message(self) -> None:
        self.remember_soon(phoneColumn=self.phone_column, template=self.template)

    async def forget(self) -> None:
        """Start afresh: nothing of this draft is written after this."""
        async with self._writing:
            self._pending = {}
            await wizard_drafts.forget(self.owner)

    async def _write_pending(self) -> None:
        try:
            while self._pending:
                await self.remember()
        finally:
            self._writer = False
