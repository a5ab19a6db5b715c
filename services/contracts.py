"""Contract operations: create (all or nothing, and start it now or later), list, read, stats, start,
pause, cancel, delete; a scheduled start and a deadline, set and changed."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from models import (
    Account,
    Contract,
    ContractStatus,
    PoolMember,
    Recipient,
    RecipientStatus,
    SendMinute,
    StatusCount,
)
from models.contract import by_status
from models.enums import ACTIVE_CONTRACT
from models.ids import new_message_ids
from models.sql import insert_rows, refresh_statistics
from services import estimates, names, phones, pools, users
from services.errors import Conflict, InvalidInput, NotFound, Problem, ProblemList, ServiceError, validate
from services.timezones import SendWindowIn, ZoneRule
from settings import get_settings
from texts import N_, say

log = logging.getLogger(__name__)

# A contract this big changes the recipients table enough to mislead PostgreSQL's planner until the
# statistics are refreshed (first page of a fresh 1M contract: 300 ms before, under 1 ms after).
ANALYZE_FROM = 50_000
# How long a cancel or delete waits for messages a worker is sending right now to be recorded (a
# typing pause and a send, or a batch of the sandbox); a worker that lost its lease stops sooner.
DELETE_WAIT_S = 30
# The error_message of a recipient a cancel left unsent (SKIPPED).
CANCELLED_NOTE = N_("not sent: the contract was cancelled")

# Recipients not sent yet, and contracts not over yet (whose times may still change).
UNSENT = (RecipientStatus.PENDING, RecipientStatus.QUEUED, RecipientStatus.SENDING)
NOT_OVER = (ContractStatus.PENDING, *ACTIVE_CONTRACT, ContractStatus.PAUSED)

RECIPIENT_COLUMNS = [
    "contract_id",
    "position",
    "phone_number",
    "message",
    "status",
    "message_id",
    "attempts",
    "time_zone",
]


@dataclass
class Duplicate:
    index: int
    phone_number: str
    first_index: int


@dataclass
class Created:
    contract: Contract
    duplicates: list[Duplicate] = field(default_factory=list)
    rewritten: int = field(default=0, kw_only=True)  # numbers read as national ones of the region


@dataclass
class Stats:
    status: ContractStatus
    counts: dict[RecipientStatus, int]
    successes: list[dict]
    failures: list[dict]
    skipped: list[dict]
    delivered: int = 0
    read: int = 0
    uncertain: int = 0
    accounts: list[pools.AccountProgress] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


MAX_MESSAGE_CHARS = 65536
NAME_LENGTH = 500


def message_fault(message: str) -> str | None:
    """What is wrong with a message text, if anything (every way in: API, CSV, dashboard)."""
    if not message.strip():
        return say("must not be empty")
    if len(message) > MAX_MESSAGE_CHARS:
        return say("must be at most {most} characters", most=MAX_MESSAGE_CHARS)
    if "\x00" in message:
        return say("must not contain NUL characters")  # PostgreSQL refuses them
    return None


class _Intake:
    """Checks recipients in order as their numbers come back: keeps the first of each number,
    reports repeats, and collects every problem (with the recipient's index) without stopping."""

    def __init__(self, phone_numbers: list[str], messages: list[str]) -> None:
        self.phone_numbers = phone_numbers
        self.messages = messages
        self.problems = ProblemList()
        self.first_seen: dict[str, int] = {}
        self.duplicates: list[Duplicate] = []
        self.checked = 0
        self.rewritten = 0

    def take(self, results: list[phones.Checked]) -> list[tuple[int, str]]:
        """(index, normalised number) of each new, valid recipient among the next `results`."""
        fresh = []
        for index, (phone, reason, rewritten) in enumerate(results, start=self.checked):
            self.rewritten += rewritten
            raw = self.phone_numbers[index]
            if phone == raw:
                phone = raw  # one string, not two, for a number given in the seed's format already
            if phone is None:
                self.problems.add(Problem(f"recipients[{index}].phoneNumber", f"{raw!r}: {reason}", index))
            elif fault := message_fault(self.messages[index]):
                self.problems.add(Problem(f"recipients[{index}].message", fault, index))
            elif phone in self.first_seen:
                self.duplicates.append(Duplicate(index, phone, self.first_seen[phone]))
            else:
                self.first_seen[phone] = index
                fresh.append((index, phone))
        self.checked += len(results)
        return fresh

    def raise_problems(self) -> None:
        p = self.problems
        if p.total:
            more = f" (first {len(p.items)} listed)" if p.total > len(p.items) else ""
            raise InvalidInput(f"{p.total} recipients are invalid{more}; nothing was created", p.items)


async def create_contract(
    account_ids: str | list[str],
    name: str,
    phone_numbers: list[str],
    messages: list[str],
    send_window: dict[str, Any] | None = None,
    *,
    start_at: datetime | None = None,
    deadline: datetime | None = None,
    phone_region: str | None = None,
    created_by: str | None = None,
) -> Created:
    """Create a PENDING contract with one recipient per (phone number, message), all or nothing, for
    one account or a pool of several (the first is the contract's `accountId`), sending inside
    `send_window` of each recipient's local time (None: the settings' window), starting by itself at
    `start_at` if given, and to be done by `deadline` if given; `created_by`: the user creating it
    (users.KEY_USER for the API key), who may cancel or delete it (services/users.py: may_stop). A
    number without a country code is read as one of `phone_region` (None:
    settings.default_phone_region; "": none, see services/phones.py).

    Numbers are checked in chunks while earlier chunks are already being stored, inside one
    transaction that any invalid recipient rolls back."""
    pool = pools.chosen(account_ids)
    name = names.checked(name, "name", NAME_LENGTH, say("the contract cannot be created"), least=0)
    if send_window is not None:
        send_window = validate(SendWindowIn, send_window, "sendWindow").model_dump()
    _refuse(
        [
            *_passed("startAt", start_at),
            *_passed("deadline", deadline),
            *_out_of_order(start_at, deadline, "deadline"),
        ]
    )
    if not phone_numbers:
        raise InvalidInput(
            say("a contract needs at least one recipient"), [Problem("recipients", say("is empty"))]
        )
    limit = get_settings().max_recipients
    if len(phone_numbers) > limit:
        raise InvalidInput(
            f"{len(phone_numbers)} recipients is more than the limit of {limit}",
            [Problem("recipients", f"at most {limit} recipients per contract")],
        )
    await pools.check_exist(pool, one=isinstance(account_ids, str))
    when = {"send_window": send_window, "start_at": start_at, "deadline": deadline, "created_by": created_by}
    region = get_settings().default_phone_region if phone_region is None else phone_region
    try:
        return await _store(pool, name, phone_numbers, messages, when, region)
    except IntegrityError:  # an account was deleted while the contract was being stored
        raise Conflict(
            say("an account of the contract was deleted meanwhile; nothing was created"),
            [Problem("accountIds", say("deleted meanwhile"))],
        ) from None


async def _store(
    pool: list[str],
    name: str,
    phone_numbers: list[str],
    messages: list[str],
    when: dict[str, Any],
    region: str,
) -> Created:
    """The contract stored (`when`: its send_window, start_at, deadline and creator) with its
    recipients."""
    intake = _Intake(phone_numbers, messages)
    pending = RecipientStatus.PENDING.value
    zones: Counter[str] = Counter()
    rule = ZoneRule.of()
    async with in_transaction() as conn:
        contract = await Contract.create(account_id=pool[0], name=name, **when, using_db=conn)
        await pools.store(contract.id, pool, conn)
        stored = 0
        async for results in phones.check_chunks(phone_numbers, region):
            fresh = intake.take(results)
            if intake.problems.total or not fresh:
                continue  # the input is bad: keep checking to report every problem, store nothing more
            ids = new_message_ids(len(fresh))
            rows = [
                (contract.id, stored + k, phone, messages[index], pending, ids[k], 0, rule.zone_of(phone))
                for k, (index, phone) in enumerate(fresh)
            ]
            zones.update(row[-1] for row in rows)
            await insert_rows("recipients", RECIPIENT_COLUMNS, rows, conn)
            stored += len(fresh)
        intake.raise_problems()
        await StatusCount.bulk_create(
            [
                StatusCount(contract_id=contract.id, status=st, n=stored if st == pending else 0)
                for st in RecipientStatus
            ],
            using_db=conn,
        )
        contract.total_count = stored
        contract.duplicate_count = len(intake.duplicates)
        contract.time_zones = dict(sorted(zones.items()))
        await contract.save(using_db=conn, update_fields=["total_count", "duplicate_count", "time_zones"])
    if stored >= ANALYZE_FROM:
        await refresh_statistics("recipients")
    return Created(contract, intake.duplicates, rewritten=intake.rewritten)


async def get_contract(contract_id: str) -> Contract:
    contract = await Contract.get_or_none(id=contract_id)
    if contract is None:
        raise NotFound(f"contract {contract_id!r} not found")
    return contract


async def list_contracts(
    account_id: str | None = None, status: ContractStatus | None = None, limit: int = 1000, offset: int = 0
) -> list[Contract]:
    query = Contract.all()
    if account_id:
        query = query.filter(id__in=pools.contracts_using(account_id))
    if status:
        query = query.filter(status=status)
    return await query.order_by("-created_at", "id").offset(offset).limit(limit)


async def estimated_finishes(listed: list[Contract]) -> dict[str, datetime | None]:
    """When each pending or running contract will finish by its plan (services/estimates.py)."""
    planned = [c for c in listed if c.status in (*ACTIVE_CONTRACT, ContractStatus.PENDING)]
    remaining: dict[str, int] = dict.fromkeys((c.id for c in planned), 0)
    rows = await StatusCount.filter(contract_id__in=list(remaining), status__in=UNSENT).values_list(
        "contract_id", "n"
    )
    for contract_id, n in rows:
        remaining[contract_id] += n
    out: dict[str, datetime | None] = dict.fromkeys((c.id for c in listed), None)
    for c in planned:
        out[c.id] = await estimates.contract_finish(c, remaining[c.id])
    return out


async def status_counts(contract_id: str) -> dict[RecipientStatus, int]:
    """How many recipients are in each status (kept with every change: see Recipient.change_status)."""
    return await StatusCount.for_contract(contract_id)


async def recount(contract_id: str) -> dict[RecipientStatus, int]:
    """The same counts taken from the recipient rows themselves, to check the kept ones."""
    rows = Recipient.filter(contract_id=contract_id).annotate(n=Count("id")).group_by("status")
    return by_status(await rows.values_list("status", "n"))


async def contract_stats(contract_id: str, limit: int | None = None, offset: int = 0) -> Stats:
    """Counts from the recipient rows; phone lists ordered by position, paged when `limit` is given."""
    contract = await get_contract(contract_id)

    async def listing(status: RecipientStatus, fields: tuple[str, ...]) -> list[dict]:
        if limit == 0:
            return []
        query = Recipient.filter(contract_id=contract_id, status=status).order_by("id").offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return await query.values(*fields)

    return Stats(
        status=contract.status,
        counts=await status_counts(contract_id),
        successes=await listing(RecipientStatus.SENT, ("phone_number", "sent_at")),
        failures=await listing(RecipientStatus.FAILED, ("phone_number", "error_message", "attempts")),
        skipped=await listing(RecipientStatus.SKIPPED, ("phone_number", "error_message")),
        delivered=contract.delivered_count,
        read=contract.read_count,
        uncertain=contract.uncertain_count,
        accounts=await pools.progress(contract_id),
    )


RECIPIENT_FIELDS = (
    "id",
    "position",
    "phone_number",
    "message",
    "status",
    "attempts",
    "error_message",
    "sent_at",
    "delivered_at",
    "read_at",
)


async def recipients_page(
    contract_id: str,
    status: RecipientStatus | None,
    limit: int,
    after: int | None,
    phone_prefix: str | None = None,
    search: str | None = None,
) -> tuple[list[dict], int | None]:
    """One page of a contract's recipients in their order, after the cursor `after` (keyset
    paging: as fast on the last page of a million as on the first); the next cursor, or None.
    `search`: rows whose number holds its digits anywhere, or whose message (filled from the row's
    columns) holds the text, in any case (ASCII only on SQLite); the database scans the contract's
    rows in order until the page is full, so a rare match in a million rows takes a second or so."""
    await get_contract(contract_id)
    query = Recipient.filter(contract_id=contract_id)
    if status is not None:
        query = query.filter(status=status)
    if phone_prefix:
        query = query.filter(phone_number__startswith=phone_prefix)
    if search and search.strip():
        search = search.strip()[:200]
        digits = "".join(ch for ch in search if ch.isdigit())
        in_message = Q(message__icontains=search)
        query = query.filter(Q(phone_number__contains=digits) | in_message if digits else in_message)
    if after is not None:
        query = query.filter(id__gt=after)
    rows = await query.order_by("id").limit(limit + 1).values(*RECIPIENT_FIELDS)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1]["id"] if more else None


async def start_contract(contract_id: str) -> Contract:
    """Start a PENDING contract or resume a PAUSED one; starting a running one changes nothing."""
    contract = await get_contract(contract_id)
    if contract.status in ACTIVE_CONTRACT:
        return contract
    if contract.status not in (ContractStatus.PENDING, ContractStatus.PAUSED):
        raise Conflict(
            say("contract is {status}; only PENDING or PAUSED contracts can start", status=contract.status)
        )
    if contract.deadline is not None and contract.deadline <= datetime.now(UTC):
        raise Conflict(
            say("its deadline {deadline} has passed; change or clear it first", deadline=contract.deadline),
            [Problem("deadline", say("has passed"))],
        )
    pool = await pools.pool_of(contract_id)
    accounts = await Account.filter(id__in=pool).order_by("id")
    if all(a.status in pools.LOST for a in accounts):
        account = accounts[0]
        if len(accounts) == 1 and account.status_reason:
            lost = N_("the contract's account is {status}: {reason}; pair it again first")
            raise Conflict(say(lost, status=account.status, reason=account.status_reason))
        if len(accounts) == 1:
            raise Conflict(
                say("the contract's account is {status}; pair it again first", status=account.status)
            )
        raise Conflict(say("every account of the contract is logged out or banned; pair one again first"))
    async with in_transaction() as conn:
        moved = await Contract.transition(
            contract_id,
            ContractStatus.QUEUED,
            (ContractStatus.PENDING, ContractStatus.PAUSED),
            conn,
            started_at=contract.started_at or datetime.now(UTC),
            paused_reason=None,
        )
        if not moved:
            return await get_contract(contract_id)
        await Recipient.change_status(contract_id, RecipientStatus.PENDING, RecipientStatus.QUEUED, conn)
    started = await get_contract(contract_id)  # QUEUED, as started: read before a driver takes it up
    await pools.wake(pool)  # an idle account may have been told to look again only after a while
    return started


async def schedule_contract(contract_id: str, at: datetime | None) -> Contract:
    """Have a PENDING contract start by itself at `at` (reconcile starts it within a second), or, with
    None, not by itself: it stays PENDING."""
    contract = await get_contract(contract_id)
    if contract.status != ContractStatus.PENDING:
        raise Conflict(
            say("contract is {status}; only PENDING contracts can be scheduled", status=contract.status)
        )
    _refuse([*_passed("startAt", at), *_out_of_order(at, contract.deadline, "startAt")])
    # A new time clears why the last one failed to start it.
    contract = await _set_while(contract_id, (ContractStatus.PENDING,), start_at=at, error_message=None)
    estimates.forget(contract_id)  # its plan starts at the new time
    return contract


async def set_deadline(contract_id: str, deadline: datetime | None) -> Contract:
    """Change when a contract not yet over must be done by, or, with None, clear it; a contract paused
    at its deadline may then be resumed."""
    contract = await get_contract(contract_id)
    if contract.status not in NOT_OVER:
        raise Conflict(
            say("contract is {status}; its deadline cannot change any more", status=contract.status)
        )
    start_at = contract.start_at if contract.status == ContractStatus.PENDING else None
    _refuse([*_passed("deadline", deadline), *_out_of_order(start_at, deadline, "deadline")])
    return await _set_while(contract_id, NOT_OVER, deadline=deadline)


async def _set_while(contract_id: str, statuses: tuple[ContractStatus, ...], **values: Any) -> Contract:
    """Write `values` if the contract is still in one of `statuses` (it may have moved meanwhile)."""
    now = datetime.now(UTC)
    if not await Contract.filter(id=contract_id, status__in=statuses).update(updated_at=now, **values):
        contract = await get_contract(contract_id)
        raise Conflict(say("contract is {status} now; nothing was changed", status=contract.status))
    return await get_contract(contract_id)


def _passed(field: str, at: datetime | None) -> list[Problem]:
    """A start or a deadline must be in the future."""
    if at is not None and at <= datetime.now(UTC):
        return [Problem(field, say("{at} has passed", at=at))]
    return []


def _out_of_order(start_at: datetime | None, deadline: datetime | None, field: str) -> list[Problem]:
    """A deadline must come after the start; the problem is told against `field`, the one being set."""
    if start_at is not None and deadline is not None and deadline <= start_at:
        later = say(
            "the deadline {deadline} is not after the start {start}", deadline=deadline, start=start_at
        )
        return [Problem(field, later)]
    return []


def _refuse(problems: list[Problem]) -> None:
    if problems:
        raise InvalidInput("; ".join(f"{p.field}: {p.message}" for p in problems), problems)


@dataclass
class Launched(Created):
    """A contract just created, as it is after being started or scheduled; `refused` says why that
    did not happen, if it did not (the contract is then PENDING)."""

    refused: Exception | None = None


async def create_and_launch(
    account_ids: str | list[str],
    name: str,
    phone_numbers: list[str],
    messages: list[str],
    start: Literal["now"] | datetime | None,
    send_window: dict[str, Any] | None = None,
    deadline: datetime | None = None,
    phone_region: str | None = None,
    created_by: str | None = None,
) -> Launched:
    """Create a contract (all or nothing, refused as create_contract is), then start it now ("now"),
    have it start by itself at `start` (a time), or leave it PENDING (None).

    Starting comes after the contract is stored, so a failure then does not undo it: it is returned
    in `refused` rather than raised, for the caller to say both that the contract exists and why it
    did not start (the dashboard shows the reason, then the contract's page with its Start button)."""
    start_at = start if isinstance(start, datetime) else None
    created = await create_contract(
        account_ids,
        name,
        phone_numbers,
        messages,
        send_window,
        start_at=start_at,
        deadline=deadline,
        phone_region=phone_region,
        created_by=created_by,
    )
    if start != "now":
        return Launched(created.contract, created.duplicates)
    try:
        contract = await start_contract(created.contract.id)
    except ServiceError as exc:  # e.g. its account is logged out: pair it again, then Start
        return Launched(created.contract, created.duplicates, exc)
    except Exception as exc:
        log.exception("contract %s was created, but starting it failed", created.contract.id)
        return Launched(created.contract, created.duplicates, exc)
    return Launched(contract, created.duplicates)


async def start_scheduled(now: datetime) -> list[str]:
    """Start the PENDING contracts whose start time has come; their ids."""
    due = await Contract.filter(status=ContractStatus.PENDING, start_at__lte=now).values_list("id", flat=True)
    for contract_id in due:
        try:
            await start_contract(contract_id)
        except Conflict as exc:  # its account cannot send now: shown on the contract
            await Contract.filter(id=contract_id).update(start_at=None, error_message=str(exc))
    return due


async def pause_past_deadline(now: datetime) -> list[str]:
    """Pause the running contracts whose deadline has passed with recipients unsent, saying so in
    their paused_reason; their ids. They resume only once the deadline is changed or cleared."""
    late = await Contract.filter(status__in=ACTIVE_CONTRACT, deadline__lte=now).values_list("id", "deadline")
    paused = []
    for contract_id, deadline in late:
        counts = await StatusCount.filter(contract_id=contract_id, status__in=UNSENT).values_list(
            "n", flat=True
        )
        unsent = sum(counts)
        reason = say("deadline {deadline} passed with {unsent:,} not sent", deadline=deadline, unsent=unsent)
        if unsent and await Contract.transition(
            contract_id, ContractStatus.PAUSED, ACTIVE_CONTRACT, paused_reason=reason
        ):
            paused.append(contract_id)
    return paused


async def _sends_in_flight_done(contract_id: str, pool: list[str]) -> None:
    """Wait while rows of the contract are SENDING under a live lease (a worker is sending them now;
    one that died will never send them), for at most DELETE_WAIT_S."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DELETE_WAIT_S
    while (await StatusCount.for_contract(contract_id))[RecipientStatus.SENDING]:
        live = await Account.exists(id__in=pool, lease_until__gt=datetime.now(UTC))
        if not live or loop.time() > deadline:
            log.warning("stopping %s with messages SENDING and no worker to record them", contract_id)
            return
        await asyncio.sleep(0.02)


async def _stop(contract_id: str, actor: str, from_: tuple[ContractStatus, ...] | None, refusal: str) -> None:
    """Mark the contract CANCELLED at once (only from `from_`, if given: else Conflict saying
    `refusal` with its status), so workers claim nothing more of it, and wait for the messages
    already handed to a live worker to be recorded: once this returns, nothing of it is sent any
    more. Forbidden unless `actor` may stop it (services/users.py: may_stop).

    The status change and a claim wait for each other (tasks/outbox.py: claim_all): rows are
    never claimed for a contract cancelled here."""
    contract = await get_contract(contract_id)
    await users.require_may_stop(actor, contract.created_by)
    ended = contract.completed_at or datetime.now(UTC)
    if not await Contract.transition(contract_id, ContractStatus.CANCELLED, from_, completed_at=ended):
        raise Conflict(say(refusal, status=(await get_contract(contract_id)).status))
    await _sends_in_flight_done(contract_id, await pools.pool_of(contract_id))


async def pause_contract(contract_id: str) -> Contract:
    contract = await get_contract(contract_id)
    if contract.status == ContractStatus.PAUSED:
        return contract
    moved = await Contract.transition(contract_id, ContractStatus.PAUSED, ACTIVE_CONTRACT)
    if not moved:
        contract = await get_contract(contract_id)
        if contract.status != ContractStatus.PAUSED:
            raise Conflict(f"contract is {contract.status}; only running contracts can pause")
    return await get_contract(contract_id)


async def cancel_contract(contract_id: str, actor: str) -> Contract:
    """Stop a contract that is not over yet, for good, keeping its report: CANCELLED at once, and
    once the messages a live worker is sending now are recorded, its unsent recipients (PENDING,
    QUEUED) SKIPPED with CANCELLED_NOTE, their counts with them. Conflict once it is over."""
    refusal = N_("contract is {status}; only a contract that is not over can be cancelled")
    await _stop(contract_id, actor, NOT_OVER, refusal)
    async with in_transaction() as conn:
        for unsent in (RecipientStatus.PENDING, RecipientStatus.QUEUED):
            await Recipient.change_status(
                contract_id, unsent, RecipientStatus.SKIPPED, conn, error_message=CANCELLED_NOTE
            )
    return await get_contract(contract_id)


async def delete_contract(contract_id: str, actor: str, *, running_too: bool = True) -> None:
    """Cancel the contract (as cancel_contract does: once this returns, nothing of it is sent any
    more), then remove every row of it. `running_too=False` (the dashboard) refuses a running
    contract, to be cancelled first; the API deletes it, as the seed's did."""
    stopped = None if running_too else tuple(s for s in ContractStatus if s not in ACTIVE_CONTRACT)
    await _stop(contract_id, actor, stopped, N_("contract is {status}; cancel it before deleting it"))
    async with in_transaction() as conn:
        await Recipient.filter(contract_id=contract_id).using_db(conn).delete()
        await PoolMember.filter(contract_id=contract_id).using_db(conn).delete()
        await StatusCount.filter(contract_id=contract_id).using_db(conn).delete()
        await SendMinute.filter(contract_id=contract_id).using_db(conn).delete()
        await Contract.filter(id=contract_id).using_db(conn).delete()
