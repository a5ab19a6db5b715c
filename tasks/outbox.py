"""The recipient rows a driver works on: claim due ones, record outcomes, finish contracts.

Every function runs under the account's lease; writes that record outcomes are fenced by it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models import Account, AccountStatus, Contract, ContractStatus, Recipient, RecipientStatus, StatusCount
from models.contract import Settling, count_moves, finish, settle
from models.enums import ACTIVE_CONTRACT
from models.group_commit import GroupCommit
from models.sql import LIST_CHUNK, execute, marks, returning, update_from, values_list
from services.contracts import CANCELLED_NOTE
from services.lease import LeaseLost
from services.timezones import SendWindow
from wa import registry

OPEN = (RecipientStatus.QUEUED, RecipientStatus.SENDING)
RUNNING = [status.value for status in ACTIVE_CONTRACT]  # the started contracts' statuses, for raw SQL
POOL_KEY = ("contract_id", "account_id")  # a contract_accounts row
FINAL = {RecipientStatus.SENT: "sent", RecipientStatus.FAILED: "failed", RecipientStatus.SKIPPED: "skipped"}


@dataclass(frozen=True)
class Outcome:
    contract_id: str
    recipient_id: int
    status: RecipientStatus  # SENT, FAILED, SKIPPED, or QUEUED for a retry later
    error: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True)
class Running:
    """A started contract as a claim sees it: whose recipients' local time is inside its window."""

    contract_id: str
    window: SendWindow
    time_zones: list[str] | None  # None for a contract older than quiet hours: any hour

    def open_zones(self, now: datetime) -> list[str] | None:
        """The zones that may be sent to now (None: all)."""
        if self.time_zones is None:
            return None
        return self.window.open_zones(self.time_zones, now)

    def is_open_for(self, time_zone: str | None, now: datetime) -> bool:
        """Whether a recipient in `time_zone` may be sent to now."""
        zones = self.open_zones(now)
        return zones is None or time_zone is None or time_zone in zones

    def opens_at(self, now: datetime) -> datetime | None:
        """When the window next opens in a zone of its recipients where it is shut now (None: open in
        every zone, or a contract without zones)."""
        if self.time_zones is None:
            return None
        open_now = set(self.window.open_zones(self.time_zones, now))
        shut = [z for z in self.time_zones if z not in open_now]
        return self.window.next_open(shut, now) if shut else None


async def active_contracts(account_id: str) -> list[Running]:
    """The started contracts whose pool holds the account, the one it served least recently first:
    they share the account's pacing in turns."""
    rows = await execute(
        "SELECT ca.contract_id, c.send_window, c.time_zones FROM contract_accounts ca "
        "JOIN contracts c ON c.id = ca.contract_id "
        f"WHERE ca.account_id = ? AND c.status IN ({marks(RUNNING)}) ORDER BY ca.turn_at, ca.contract_id",
        [account_id, *RUNNING],
    )
    running = []
    for row in rows:
        window, zones = (_json(row[column]) for column in ("send_window", "time_zones"))
        running.append(Running(row["contract_id"], SendWindow.of(window), list(zones) if zones else None))
    return running


def _json(value: object) -> object:
    """A JSON column read by raw SQL: text on either database."""
    return json.loads(value) if isinstance(value, str) else value


async def is_running(contract_id: str, *, grouped: bool = False) -> bool:
    """Whether the contract is still started (not paused, cancelled or finished since); with other
    drivers' questions in one statement if `grouped`."""
    return await RUNNING_CHECKS(contract_id) if grouped else (await running_among([contract_id]))[0]


async def running_among(contract_ids: list[str]) -> list[bool]:
    """For each of `contract_ids`, whether it is still started."""
    unique = sorted(set(contract_ids))
    sql = f"SELECT id FROM contracts WHERE id IN ({marks(unique)}) AND status IN ({marks(RUNNING)})"
    running = {row["id"] for row in await execute(sql, [*unique, *RUNNING])}
    return [contract_id in running for contract_id in contract_ids]


# Paced drivers ask together after "typing…" (a statement for each message saved).
RUNNING_CHECKS: GroupCommit[str, bool] = GroupCommit(running_among, linger_s=0.05, most=LIST_CHUNK)


async def requeue_orphans(account: Account, contract_ids: list[str] | None = None) -> int:
    """Rows the account left SENDING when its holder died (in `contract_ids`, or any contract). Where
    the network takes our message id (sandbox), send them again: a repeat cannot deliver twice.
    Otherwise (WhatsApp) a row holding the network's id went out, so it is SENT; one without may or
    may not have gone out: it is sent again, or failed when the account has resend_uncertain off,
    and counted as uncertain on its contract either way. A cancelled contract sends nothing again:
    what would be is SKIPPED as its other unsent rows were. Returns how many rows were sent again."""
    own_ids = registry.transport(account.transport).takes_our_ids
    if contract_ids is None:  # its pools' contracts with any row SENDING: none, unless a holder died
        rows = await execute(
            "SELECT p.contract_id FROM contract_accounts p JOIN contract_status_counts s "
            "ON s.contract_id = p.contract_id AND s.status = ? WHERE p.account_id = ? AND s.n > 0",
            [RecipientStatus.SENDING.value, account.id],
        )
        contract_ids = [row["contract_id"] for row in rows]
    moved = 0
    for contract_id in contract_ids:
        async with in_transaction() as conn:
            orphans = Recipient.filter(
                contract_id=contract_id, status=RecipientStatus.SENDING, account_id=account.id
            ).using_db(conn)
            cancelled = (
                await Contract.filter(id=contract_id, status=ContractStatus.CANCELLED).using_db(conn).exists()
            )
            if own_ids:
                ids = await orphans.values_list("id", flat=True)
                moved += await _again(contract_id, ids, cancelled, conn)
                continue
            out = await orphans.filter(network_id__isnull=False).values_list("id", flat=True)
            unknown = await orphans.filter(network_id__isnull=True).values_list("id", flat=True)
            if unknown:  # the contract's row first, as a claim takes it: one lock order
                await (
                    Contract.filter(id=contract_id)
                    .using_db(conn)
                    .update(uncertain_count=F("uncertain_count") + len(unknown))
                )
            sent = await _move(contract_id, out, RecipientStatus.SENT, conn, sent_at=datetime.now(UTC))
            if account.resend_uncertain:
                moved += await _again(contract_id, unknown, cancelled, conn)
                failed = 0
            else:
                failed = await _move(
                    contract_id, unknown, RecipientStatus.FAILED, conn, error_message=UNCERTAIN
                )
            counts = Counter(sent=sent, failed=failed)
            await _count_accounts({(contract_id, account.id): counts}, conn)
    return moved


async def _again(contract_id: str, ids: list[int], cancelled: bool, conn: BaseDBAsyncClient) -> int:
    """Orphans to be sent again: QUEUED; SKIPPED, as its unsent were, if their contract was
    cancelled meanwhile. How many will be sent again."""
    if cancelled:
        await _move(contract_id, ids, RecipientStatus.SKIPPED, conn, error_message=CANCELLED_NOTE)
        return 0
    return await _move(contract_id, ids, RecipientStatus.QUEUED, conn)


async def _move(
    contract_id: str, ids: list[int], to: RecipientStatus, conn: BaseDBAsyncClient, **values: object
) -> int:
    """Settle orphans: back to QUEUED as they were, or to a final status as one more attempt."""
    if not ids:
        return 0
    attempted = to != RecipientStatus.QUEUED
    return await Recipient.change_status(
        contract_id, RecipientStatus.SENDING, to, conn, ids=ids, attempted=attempted, **values
    )


async def _count_accounts(counts: dict[tuple[str, str], Counter[str]], conn: BaseDBAsyncClient) -> None:
    """Add final outcomes, by (contract, account), to what each account has sent of each contract
    (stats' per-account progress)."""
    rows = [(*key, n["sent"], n["failed"], n["skipped"]) for key, n in sorted(counts.items()) if n.total()]
    if not rows:
        return
    sets = "sent = sent + v.column3, failed = failed + v.column4, skipped = skipped + v.column5"
    types = ("text", "text", "integer", "integer", "integer")
    await update_from("contract_accounts", POOL_KEY, sets, rows, types, conn)


UNCERTAIN = "may have been sent before a worker crashed; not sent again (resendUncertain is off)"


@dataclass(frozen=True, slots=True)
class Claimed:
    """A recipient taken for sending: what the driver needs of its row, without a model object each."""

    id: int
    contract_id: str
    phone_number: str
    message: str
    message_id: str
    attempts: int
    time_zone: str | None
    opted_out: bool  # on the opt-out list of an account of the contract's pool: skipped, not sent


# Who asked one of a pool's numbers to stop hears from none of them.
CLAIMED_COLUMNS = (
    "id, contract_id, phone_number, message, message_id, attempts, time_zone, EXISTS ("
    "SELECT 1 FROM opt_outs o JOIN contract_accounts p ON p.account_id = o.account_id "
    "WHERE p.contract_id = recipients.contract_id AND o.phone_number = recipients.phone_number"
    ") AS opted_out"
)


@dataclass(frozen=True, slots=True)
class AccountNow:
    """The claiming account as its claim found it: what the API (a log-out) or the health rules (a
    pause, a slower pace) decided since its driver read it, learnt without a statement of its own."""

    status: AccountStatus
    paused_until: datetime | None
    pace_factor: float


@dataclass(frozen=True)
class Claim:
    rows: list[Claimed]
    account: AccountNow | None = None  # None when nothing was claimed


def _due(contract_id: str, account_id: str, now: datetime, zones: list[str] | None) -> tuple[str, list]:
    """The contract's recipients this account may send now, as a WHERE clause and its parameters:
    due, nobody's or already its own, and (when `zones` is given) in a time zone whose window is
    open."""
    where = (
        "contract_id = ? AND status = ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
        "AND (account_id IS NULL OR account_id = ?)"
    )
    params: list = [contract_id, RecipientStatus.QUEUED.value, now, account_id]
    if zones is not None:
        where += f" AND time_zone IN ({marks(zones)})"
        params += zones
    return where, params


def _due_select(where: str) -> str:
    """A SELECT of the rows `where` says are due (its parameters: the ask's number, the where's,
    the limit, the account's id), with the claiming account as it stands on each."""
    return (
        "SELECT ?::integer AS ask, r.*, a.status AS account_status, a.paused_until AS account_paused_until, "
        f"a.pace_factor AS account_pace_factor FROM (SELECT {CLAIMED_COLUMNS} FROM recipients "
        f"WHERE {where} ORDER BY id LIMIT ?) r JOIN accounts a ON a.id = ?"
    )


def _claim_of(rows: list[dict]) -> Claim:
    """The rows of one ask as a Claim: the recipients in id order, the account as the last found it."""
    if not rows:
        return Claim([])
    rows = sorted(rows, key=lambda row: row["id"])
    columns = ("id", "contract_id", "phone_number", "message", "message_id", "attempts", "time_zone")
    claimed = [Claimed(*(row[c] for c in columns), opted_out=bool(row["opted_out"])) for row in rows]
    last = rows[-1]
    paused_until = last["account_paused_until"]
    if isinstance(paused_until, str):  # SQLite: as the ORM stored it
        paused_until = datetime.fromisoformat(paused_until)
    account = AccountNow(AccountStatus(last["account_status"]), paused_until, last["account_pace_factor"])
    return Claim(claimed, account)


async def _any_due(account_id: str, where: str, params: list) -> bool:
    return bool(await execute(_due_select(where), [0, *params, 1, account_id]))


@dataclass(frozen=True)
class Ask:
    """One driver's claim on one contract: up to `limit` of the rows `where` says are due for it."""

    account_id: str
    contract_id: str
    where: str
    params: list
    limit: int
    now: datetime
    turn: bool  # the account serves several contracts: this one goes to the back of their turns


async def _put_back(_: Ask, claim: Claim | None) -> None:
    """Rows claimed for a driver that was stopped while its claim was being made: unsent, back."""
    if claim is not None and claim.rows:
        await unclaim(claim.rows[0].contract_id, [r.id for r in claim.rows])


# Paced drivers claim together, as they record (models/group_commit.py); back to back, alone. At
# most 100 at once: an ask binds 7 parameters and its contract's open time zones (a few hundred at
# the very most), and either database takes some 32,000 in one statement.
CLAIMS: GroupCommit[Ask, Claim | None] = GroupCommit(
    lambda asks: claim_all(asks), linger_s=0.05, most=100, undo=_put_back
)


async def claim(
    account_id: str, running: list[Running], now: datetime, limit: int, *, grouped: bool = False
) -> Claim:
    """Mark up to `limit` recipients due for this account SENDING as its own, from the first of the
    `running` contracts that has any inside its window, and return them with the account as it
    stands; with other drivers' claims in one transaction if `grouped`. `running` is kept in turn
    order: the contract served moves to the back, and one found paused or deleted since it was
    listed is dropped."""
    for contract in list(running):
        contract_id, zones = contract.contract_id, contract.open_zones(now)
        if zones is not None and len(zones) == len(contract.time_zones or []):
            zones = None  # every recipient's window is open: no filter to apply
        if zones == []:
            continue
        where, params = _due(contract_id, account_id, now, zones)
        # Look before taking the contract's lock, to pass over contracts with nothing due; with one
        # contract alone there is nothing to choose, and the claim looks under the lock.
        if len(running) > 1 and not await _any_due(account_id, where, params):
            continue
        ask = Ask(account_id, contract_id, where, params, limit, now, turn=len(running) > 1)
        got = await CLAIMS(ask) if grouped else (await claim_all([ask]))[0]
        if got is None:
            running.remove(contract)  # paused or cancelled since it was listed
            continue
        if ask.turn:
            running.remove(contract)
            running.append(contract)
        if got.rows:
            return got
    return Claim([])


async def claim_all(asks: list[Ask]) -> list[Claim | None]:
    """Claim for many drivers in one transaction of a few statements, whatever their number: for
    each ask its Claim, or None when its contract is no longer running (paused or cancelled).

    The first write marks the asks' contracts IN_PROGRESS, only those still running:
    that write and a pause or delete's status change wait for each other, so rows are never claimed
    for a contract that a delete has already cancelled (the delete then waits for claimed rows). It
    also orders the claims of a pool's accounts, so the rows chosen after it are nobody else's; two
    asks on one contract here get rows of their own."""
    contract_ids = sorted({a.contract_id for a in asks})
    async with in_transaction() as conn:
        started = await returning(
            f"UPDATE contracts SET status = ?, updated_at = ? WHERE id IN ({marks(contract_ids)}) "
            f"AND status IN ({marks(RUNNING)}) RETURNING id",
            [ContractStatus.IN_PROGRESS.value, datetime.now(UTC), *contract_ids, *RUNNING],
            conn,
        )
        running = {row["id"] for row in started}
        live = [i for i, a in enumerate(asks) if a.contract_id in running]
        found = await _due_for(asks, live, conn)
        ids = [(row["id"], asks[i].account_id) for i in live for row in found[i]]
        taken = set()
        if ids:
            values, params = values_list(ids, ("bigint", "text"))
            moved = await returning(
                f"UPDATE recipients SET status = ?, account_id = v.column2 FROM ({values}) AS v "
                "WHERE recipients.id = v.column1 AND recipients.status = ? "
                "RETURNING recipients.id, recipients.contract_id, recipients.status",
                [RecipientStatus.SENDING.value, *params, RecipientStatus.QUEUED.value],
                conn,
            )
            taken = {row["id"] for row in moved}
            await count_moves(moved, RecipientStatus.QUEUED, conn)
        turns = sorted((asks[i].contract_id, asks[i].account_id, asks[i].now) for i in live if asks[i].turn)
        if turns:  # the turns of an account's contracts (one alone needs none)
            types = ("text", "text", "timestamptz")
            await update_from("contract_accounts", POOL_KEY, "turn_at = v.column3", turns, types, conn)
    claims: list[Claim | None] = [None] * len(asks)
    for i in live:
        claims[i] = _claim_of([row for row in found[i] if row["id"] in taken])
    return claims


async def _due_for(asks: list[Ask], live: list[int], conn: BaseDBAsyncClient) -> dict[int, list[dict]]:
    """The rows due for each live ask, in one statement (a SELECT per ask, UNION ALL): each ask's
    first `limit` rows, none of them an earlier ask's (asks on one contract see the same rows)."""
    branches, params = [], []
    ahead: Counter[str] = Counter()
    for i in live:
        a = asks[i]
        branches.append(_due_select(a.where))
        params += [i, *a.params, a.limit + ahead[a.contract_id], a.account_id]
        ahead[a.contract_id] += a.limit
    rows = await execute(" UNION ALL ".join(branches), params, conn) if branches else []
    by_ask: dict[int, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda row: (row["ask"], row["id"])):
        by_ask[row["ask"]].append(row)
    found, taken = {}, set()
    for i in live:
        mine = [row for row in by_ask[i] if row["id"] not in taken][: asks[i].limit]
        taken |= {row["id"] for row in mine}
        found[i] = mine
    return found


async def unclaim(contract_id: str, recipient_ids: list[int], *, release: bool = False) -> None:
    """Put claimed rows back, unsent; `release` also gives them to the whole pool (the account
    stands down: logged out or paused since it claimed them)."""
    values = {"account_id": None} if release else {}
    async with in_transaction() as conn:
        await Recipient.change_status(
            contract_id, RecipientStatus.SENDING, RecipientStatus.QUEUED, conn, ids=recipient_ids, **values
        )


@dataclass(frozen=True)
class Record:
    """What a driver writes once it has sent: the outcomes, and its account's new pacing state."""

    account_id: str
    token: str  # its lease: the writes are fenced by it
    outcomes: list[Outcome]
    at: datetime
    pacing_state: dict


# Paced drivers record together (models/group_commit.py); one sending back to back records alone,
# its batches already a transaction each, which a tenth of a second's wait would slow.
RECORDS: GroupCommit[Record, None] = GroupCommit(lambda records: record_all(records), linger_s=0.1)


async def record(r: Record, *, grouped: bool = False) -> None:
    """Write the outcomes and the account's pacing state, fenced by its lease (LeaseLost if it is
    held by another now), in one transaction: with other drivers' if `grouped`."""
    if grouped:
        await RECORDS(r)
        return
    (lost,) = await record_all([r])
    if lost is not None:
        raise lost


async def record_all(records: list[Record]) -> list[LeaseLost | None]:
    """Write many drivers' records in one transaction, in a few statements for them all; for each,
    LeaseLost if its account's lease is another's now (nothing of it is written), else None."""
    in_order = sorted(records, key=lambda r: r.account_id)  # one lock order for the accounts' rows
    async with in_transaction() as conn:
        values, params = values_list(
            [(r.account_id, r.token, r.pacing_state) for r in in_order], ("text", "text", "jsonb")
        )
        held = await returning(
            f"UPDATE accounts SET pacing_state = v.column3 FROM ({values}) AS v "
            "WHERE accounts.id = v.column1 AND accounts.lease_owner = v.column2 "
            "RETURNING accounts.id, accounts.lease_owner",
            params,
            conn,
        )
        holding = {(row["id"], row["lease_owner"]) for row in held}
        minute_of: dict[int, datetime] = {}
        settling = []
        for r in in_order:
            if (r.account_id, r.token) not in holding:
                continue
            for o in r.outcomes:
                sent_at = r.at if o.status == RecipientStatus.SENT else None
                settling.append(Settling(o.recipient_id, o.status, o.error, o.retry_at, sent_at))
                minute_of[o.recipient_id] = r.at.replace(second=0, microsecond=0)
        settled = await settle(settling, conn)
        counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for row in settled.moved:
            status = RecipientStatus(row["status"])
            if status in FINAL:
                counts[(row["contract_id"], row["account_id"])][FINAL[status]] += 1
        await _count_accounts(counts, conn)
        await _count_minutes(settled.moved, minute_of, conn)
    if settled.emptied:  # over as their last outcome is (a crash here: finish_done_contracts)
        async with in_transaction() as conn:
            await finish(settled.emptied, conn, max(r.at for r in in_order))
    return [None if (r.account_id, r.token) in holding else LeaseLost(r.account_id) for r in records]


async def _count_minutes(moved: list[dict], minute_of: dict[int, datetime], conn: BaseDBAsyncClient) -> None:
    """Add the rows moved to their contract's count for their account and minute (the dashboard's
    chart, each account's sends today, and its health figures): final ones as sent or failed,
    transient errors (retried later) as retried."""
    columns = {RecipientStatus.SENT: 0, RecipientStatus.FAILED: 1, RecipientStatus.QUEUED: 2}
    counts: dict[tuple[str, str, datetime], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in moved:
        status = RecipientStatus(row["status"])
        if status in columns:
            counts[(row["contract_id"], row["account_id"], minute_of[row["id"]])][columns[status]] += 1
    if not counts:
        return
    values, params = values_list(
        [(*key, *n) for key, n in sorted(counts.items())],
        ("text", "text", "timestamptz", "integer", "integer", "integer"),
    )
    await execute(  # only for a contract still there: a deleted one leaves no row behind
        "INSERT INTO send_minutes (contract_id, account_id, minute, sent, failed, retried) "
        f"SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6 FROM ({values}) AS v "
        "WHERE EXISTS (SELECT 1 FROM contracts WHERE id = v.column1) "
        "ON CONFLICT (contract_id, account_id, minute) DO UPDATE "
        "SET sent = send_minutes.sent + excluded.sent, failed = send_minutes.failed + excluded.failed, "
        "retried = send_minutes.retried + excluded.retried",
        params,
        conn,
    )


async def next_retry_at(account_id: str, contract_ids: list[str], now: datetime) -> datetime | None:
    """When the earliest retry of these contracts that this account may send is due, if one waits."""
    if not contract_ids:
        return None
    return await (
        Recipient.filter(contract_id__in=contract_ids, status=RecipientStatus.QUEUED, next_attempt_at__gt=now)
        .filter(Q(account_id__isnull=True) | Q(account_id=account_id))
        .order_by("next_attempt_at")
        .first()
        .values_list("next_attempt_at", flat=True)
    )


async def finish_done_contracts(contract_ids: list[str], now: datetime) -> list[str]:
    """End every one of these contracts with no recipient left to send (`models/contract.finish`).
    Recording a contract's last outcome ends it already; this ends those whose last rows were
    settled otherwise (after a crash, or while the contract was paused). Returns those still open."""
    if not contract_ids:
        return []
    open_counts = StatusCount.filter(contract_id__in=contract_ids, status__in=OPEN, n__gt=0)
    still_open = set(await open_counts.values_list("contract_id", flat=True))
    async with in_transaction() as conn:
        await finish([c for c in contract_ids if c not in still_open], conn, now)
    return [c for c in contract_ids if c in still_open]
