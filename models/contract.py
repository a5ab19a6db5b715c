from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from models.enums import ACTIVE_CONTRACT, ContractStatus, RecipientStatus
from models.ids import ID_LENGTH, new_id
from models.sql import assignments, changed, marks, returning, update_from_returning, values_list


def _contract_id() -> str:
    return new_id("contract")


class Contract(Model):
    id = fields.CharField(max_length=ID_LENGTH, primary_key=True, default=_contract_id)
    account = fields.ForeignKeyField("models.Account", related_name="contracts", on_delete=fields.RESTRICT)
    name = fields.CharField(max_length=500, default="")
    status = fields.CharEnumField(
        ContractStatus, max_length=16, default=ContractStatus.PENDING, db_index=True
    )
    total_count = fields.IntField(default=0)
    duplicate_count = fields.IntField(default=0)
    error_message = fields.TextField(null=True)
    # Why the contract paused itself (its account logged out, banned, rate-limited); cleared on resume.
    paused_reason = fields.TextField(null=True)
    # Receipts and crash-uncertain sends, counted as they happen in the transaction that marks the row.
    delivered_count = fields.IntField(default=0)
    read_count = fields.IntField(default=0)
    uncertain_count = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # Quiet hours: the local hours and days it sends in (null: the settings' window), and the time zones
    # of its recipients with how many in each (services/timezones.py): whose window is open, and the plan.
    send_window = fields.JSONField(null=True)
    time_zones = fields.JSONField(null=True)
    # A start chosen in advance (the dashboard's wizard); reconcile starts the contract then.
    start_at = fields.DatetimeField(null=True)
    # When it must be done by: reconcile pauses it, saying so, if recipients are unsent then.
    deadline = fields.DatetimeField(null=True)
    started_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)  # when it ended: completed, failed or cancelled
    # The dashboard user who created it, or "admin (API key)" for the key (the API, or a dashboard
    # signed in with it); null for contracts older than the column. Who may cancel or delete it:
    # services/users.py: may_stop.
    created_by = fields.CharField(max_length=100, null=True)

    class Meta:
        table = "contracts"

    @classmethod
    async def transition(
        cls,
        contract_id: str,
        to: ContractStatus,
        from_: Iterable[ContractStatus] | None = None,
        using_db: BaseDBAsyncClient | None = None,
        **values: Any,
    ) -> int:
        """Move to status `to` (only from `from_`, if given) in one conditional UPDATE; rows moved."""
        sets, params = assignments({"status": to, "updated_at": datetime.now(UTC), **values})
        where = "id = ?"
        params.append(contract_id)
        if from_ is not None:
            statuses = [status.value for status in from_]
            where += f" AND status IN ({marks(statuses)})"
            params += statuses
        return await changed(f"UPDATE contracts SET {sets} WHERE {where}", params, using_db)


class PoolMember(Model):
    """An account in a contract's pool (the contract's own account is the first), and what it has sent
    of the contract, counted in the transaction that records the outcomes."""

    id = fields.BigIntField(primary_key=True)
    contract = fields.ForeignKeyField("models.Contract", related_name="pool", on_delete=fields.CASCADE)
    account = fields.ForeignKeyField("models.Account", related_name="pools", on_delete=fields.RESTRICT)
    position = fields.IntField(default=0)
    sent = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    skipped = fields.IntField(default=0)
    # When the account last took recipients of this contract (or joined the pool): an account serving
    # several contracts takes the one it served least recently next, so they share it in turns.
    turn_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "contract_accounts"
        unique_together = (("contract_id", "account_id"),)
        indexes = (("account_id",),)  # a driver lists its account's contracts each pass


class Recipient(Model):
    """One personal message. Moves PENDING → QUEUED → SENDING → SENT | FAILED | SKIPPED."""

    id = fields.BigIntField(primary_key=True)
    # No database constraint: its per-row check doubled the cost of bulk inserts. Recipients are only
    # written by create_contract (inside the contract's transaction) and removed by delete_contract.
    contract = fields.ForeignKeyField(
        "models.Contract", related_name="recipients", on_delete=fields.CASCADE, db_constraint=False
    )
    position = fields.IntField()
    phone_number = fields.CharField(max_length=20)
    message = fields.TextField()
    status = fields.CharEnumField(RecipientStatus, max_length=10, default=RecipientStatus.PENDING)
    message_id = fields.CharField(max_length=ID_LENGTH, unique=True)
    attempts = fields.IntField(default=0)
    error_message = fields.TextField(null=True)
    next_attempt_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)
    # The id the network gave the message when it differs from message_id (WhatsApp through neonize).
    # Indexed only where set (migration 0004): a full index would be rewritten by every status change.
    network_id = fields.CharField(max_length=128, null=True)
    # The recipient's time zone, for quiet hours (null in rows older than them: sent at any hour).
    time_zone = fields.CharField(max_length=40, null=True)
    # The pool account that took it: it alone sends it, retries included, until failover lets it go.
    account_id = fields.CharField(max_length=ID_LENGTH, null=True)
    delivered_at = fields.DatetimeField(null=True)
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recipients"
        indexes = (("contract_id", "status", "id"),)

    @classmethod
    async def change_status(
        cls,
        contract_id: str,
        from_: RecipientStatus,
        to: RecipientStatus,
        conn: BaseDBAsyncClient,
        ids: Sequence[int] | None = None,
        *,
        attempted: bool = False,
        **values: Any,
    ) -> int:
        """Move the contract's recipients in `from_` (only `ids`, if given) to `to`, setting `values`
        (and counting one more attempt if `attempted`), and its status counts with them, in the
        caller's transaction `conn`. Every status change goes through here (or `settle` and
        `count_moves`, for many contracts at once), so the counts always
        equal the rows. Returns how many recipients moved.

        Raw SQL: this is the hot path of every claim and every recorded outcome."""
        if ids is not None and not ids:
            return 0
        sets, params = assignments({"status": to, **values})
        if attempted:
            sets += ", attempts = attempts + 1"
        where = "contract_id = ? AND status = ?"
        params += [contract_id, from_.value]
        if ids is not None:
            where += f" AND id IN ({marks(ids)})"
            params += list(ids)
        moved = await changed(f"UPDATE recipients SET {sets} WHERE {where}", params, conn)
        if moved and from_ != to:
            # One statement each, in one order for every mover: a statement locks rows in the order
            # its plan meets them, which a sequential scan does not keep.
            for status, delta in sorted([(from_.value, -moved), (to.value, moved)]):
                await changed(
                    "UPDATE contract_status_counts SET n = n + ? WHERE contract_id = ? AND status = ?",
                    [delta, contract_id, status],
                    conn,
                )
        return moved


@dataclass(frozen=True, slots=True)
class Settling:
    """A recipient leaving SENDING after an attempt: its new status, and what goes with it."""

    id: int
    to: RecipientStatus  # SENT, FAILED, SKIPPED, or QUEUED for a retry at `retry_at`
    error: str | None = None
    retry_at: datetime | None = None
    sent_at: datetime | None = None


@dataclass
class Settled:
    moved: list[dict]  # the rows moved: their id, contract_id, account_id and status
    emptied: list[str]  # the contracts the rows took the last SENDING count of to nought


async def settle(rows: Sequence[Settling], conn: BaseDBAsyncClient) -> Settled:
    """Move recipients still SENDING, each to its own status, with one more attempt counted, and
    their contracts' status counts with them, in the caller's transaction `conn`: two statements
    however many rows and contracts (the drivers of a worker record their outcomes together). The
    contracts they emptied of SENDING rows may be over: the caller ends them (`finish`) once this
    transaction is committed."""
    if not rows:
        return Settled([], [])
    values, params = values_list(
        [(r.id, r.to, r.error, r.retry_at, r.sent_at) for r in rows],
        ("bigint", "text", "text", "timestamptz", "timestamptz"),
    )
    moved = await returning(
        "UPDATE recipients SET status = v.column2, error_message = v.column3, next_attempt_at = v.column4, "
        "sent_at = COALESCE(v.column5, recipients.sent_at), attempts = recipients.attempts + 1 "
        f"FROM ({values}) AS v WHERE recipients.id = v.column1 AND recipients.status = ? "
        "RETURNING recipients.id, recipients.contract_id, recipients.account_id, recipients.status",
        [*params, RecipientStatus.SENDING.value],
        conn,
    )
    counts = await count_moves(moved, RecipientStatus.SENDING, conn)
    sending = RecipientStatus.SENDING.value
    emptied = {c["contract_id"] for c in counts if c["status"] == sending and c["n"] == 0}
    return Settled(moved, sorted(emptied))


async def count_moves(moved: Sequence[dict], from_: RecipientStatus, conn: BaseDBAsyncClient) -> list[dict]:
    """Move the status counts with rows an UPDATE … RETURNING moved out of `from_` (each row's
    contract_id and new status) in the caller's transaction: one statement for all, its list in
    (contract, status) order as change_status moves them (the lock order too where the plan follows
    the list, as for a few rows). Returns the counts it changed (contract_id, status, n) as they
    are now."""
    deltas: Counter[tuple[str, str]] = Counter()
    for row in moved:
        deltas[(row["contract_id"], from_.value)] -= 1
        deltas[(row["contract_id"], row["status"])] += 1
    rows = sorted((*key, n) for key, n in deltas.items() if n)
    if not rows:
        return []
    types = ("text", "text", "integer")
    return await update_from_returning(
        "contract_status_counts",
        ("contract_id", "status"),
        "n = n + v.column3",
        rows,
        types,
        conn,
        ("contract_id", "status", "n"),
    )


async def finish(
    contract_ids: Sequence[str], conn: BaseDBAsyncClient, at: datetime | None = None
) -> list[str]:
    """End those of the started contracts with no recipient left to send (none QUEUED or SENDING),
    as of `at` (now): COMPLETED, or FAILED when none was sent and some failed. One statement for
    them all; the ids of those it ended.

    Run it in a transaction of its own, not the one that moved the counts: it takes the contracts'
    rows, and a claim takes a contract's row before its counts (on PostgreSQL two such
    transactions, each holding what the other wants, would deadlock)."""
    if not contract_ids:
        return []
    s = RecipientStatus
    counts = (
        "SELECT 1 FROM contract_status_counts c WHERE c.contract_id = contracts.id AND c.n > 0 AND c.status"
    )
    running = [status.value for status in ACTIVE_CONTRACT]
    ended = await returning(
        f"UPDATE contracts SET status = CASE WHEN EXISTS ({counts} = ?) OR NOT EXISTS ({counts} = ?) "
        "THEN ? ELSE ? END, completed_at = ?, updated_at = ? "
        f"WHERE id IN ({marks(contract_ids)}) AND status IN ({marks(running)}) "
        f"AND NOT EXISTS ({counts} IN (?, ?)) RETURNING id",
        [
            s.SENT.value,
            s.FAILED.value,
            ContractStatus.COMPLETED.value,
            ContractStatus.FAILED.value,
            at or datetime.now(UTC),
            datetime.now(UTC),
            *contract_ids,
            *running,
            s.QUEUED.value,
            s.SENDING.value,
        ],
        conn,
    )
    return [row["id"] for row in ended]


class StatusCount(Model):
    """How many of a contract's recipients are in each status: stats read these, not a million rows."""

    id = fields.BigIntField(primary_key=True)
    contract_id = fields.CharField(max_length=ID_LENGTH)
    status = fields.CharEnumField(RecipientStatus, max_length=10)
    n = fields.IntField(default=0)

    class Meta:
        table = "contract_status_counts"
        unique_together = (("contract_id", "status"),)

    @classmethod
    async def for_contract(cls, contract_id: str) -> dict[RecipientStatus, int]:
        """How many of the contract's recipients are in each status (every status present)."""
        return by_status(await cls.filter(contract_id=contract_id).values_list("status", "n"))


def by_status(pairs: Iterable[tuple[str, int]]) -> dict[RecipientStatus, int]:
    """(status, count) pairs as a dict holding every status, 0 where none was given."""
    counts = dict.fromkeys(RecipientStatus, 0)
    for status, n in pairs:
        counts[RecipientStatus(status)] = n
    return counts
