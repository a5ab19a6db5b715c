"""The seed's JSON shapes, and ours where the seed has none. They live here and nowhere else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from models import Account, AccountStatus, Contract, ContractStatus, OptOut, RecipientStatus
from models.ids import ID_LENGTH, could_be_id
from services.account_health import Health
from services.accounts import cap_today
from services.contracts import Created, Stats
from services.errors import InvalidInput, NotFound, Problem
from services.timezones import HOUR_MINUTE, SendWindow, SendWindowIn
from wa.sandbox import SandboxConfig


def _js_time(value: datetime) -> str:
    """The seed's timestamps: ISO 8601 in UTC with milliseconds and Z, as JavaScript prints them."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(_js_time, return_type=str)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _known(value: str, what: str) -> str:
    if not could_be_id(value):
        raise NotFound(f"{what} {value!r} not found")
    return value


def _contract_id(contract_id: Annotated[str, Path(max_length=ID_LENGTH)]) -> str:
    return _known(contract_id, "contract")


def _account_id(account_id: Annotated[str, Path(max_length=ID_LENGTH)]) -> str:
    return _known(account_id, "account")


# Ids in paths: longer than any stored id is a 422 naming the parameter; one that cannot be an id
# (a NUL byte, spaces) is a 404 without a lookup.
ContractId = Annotated[str, Depends(_contract_id)]
AccountId = Annotated[str, Depends(_account_id)]
# Retries of a create with the same key get the first answer back (services/idempotency.py).
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="any unique string (a UUID): a retry with the same key and body returns the contract "
        "created first instead of creating another; the same key with another body is a 409. "
        "Keys are kept 24 hours.",
    ),
]
# The `next` of a previous page (keyset paging).
After = Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$", description="`next` of the previous page")]

# Text stored in the database: PostgreSQL refuses NUL characters, so they are refused here, by field.
Text = Annotated[str, AfterValidator(_no_nul)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecipientIn(BaseModel):
    phoneNumber: str = Field(min_length=1, max_length=40)
    message: Text = Field(min_length=1, max_length=65536)


AccountIdIn = Annotated[Text, Field(min_length=1, max_length=ID_LENGTH)]
POOL = (
    "the accounts that send the contract, a pool: whichever is due next sends the next recipient, "
    "each within its own pacing and daily cap. `accountId` alone is a pool of one."
)


class SendWindowOut(BaseModel):
    start: str
    end: str
    days: list[int]

    @classmethod
    def of(cls, c: Contract) -> SendWindowOut:
        w = SendWindow.of(c.send_window)
        return cls(start=f"{w.start:%H:%M}", end=f"{w.end:%H:%M}", days=sorted(w.days))


START_AT = "when the PENDING contract starts by itself"
DEADLINE = (
    "when it must be done by: if recipients are unsent then, it pauses, saying so in `pausedReason`, "
    "and cannot be resumed until the deadline is changed or cleared"
)
A_TIME = "ISO 8601 with an offset, in the future"


class ContractIn(BaseModel):
    accountId: AccountIdIn | None = Field(None, description="the seed's one account (or give accountIds)")
    accountIds: list[AccountIdIn] | None = Field(None, min_length=1, max_length=100, description=POOL)
    name: Text = Field("", max_length=500)
    recipients: list[RecipientIn]
    sendWindow: SendWindowIn | None = Field(None, description="quiet hours; default: the server's window")
    startAt: AwareDatetime | None = Field(None, description=f"{START_AT} ({A_TIME})")
    deadline: AwareDatetime | None = Field(None, description=f"{DEADLINE} ({A_TIME})")

    def pool(self) -> str | list[str]:
        return chosen_pool(self.accountId, self.accountIds)


class ScheduleIn(Strict):
    startAt: AwareDatetime | None = Field(description=f"{START_AT} ({A_TIME}); null: only when started")


class DeadlineIn(Strict):
    deadline: AwareDatetime | None = Field(description=f"{DEADLINE} ({A_TIME}); null: none")


def _import_window(
    sendWindowStart: Annotated[
        str | None, Query(pattern=HOUR_MINUTE, description="quiet hours: sends from, e.g. 09:00")
    ] = None,
    sendWindowEnd: Annotated[
        str | None, Query(pattern=HOUR_MINUTE, description="… until, e.g. 21:00")
    ] = None,
    sendWindowDays: Annotated[
        str | None, Query(pattern=r"^[1-7](,[1-7]){0,6}$", description="… on ISO weekdays, e.g. 1,2,3,4,5")
    ] = None,
) -> dict[str, Any] | None:
    """/import's send window, as `sendWindow` in JSON: start and end together, days optional."""
    if sendWindowStart is None and sendWindowEnd is None and sendWindowDays is None:
        return None
    if sendWindowStart is None or sendWindowEnd is None:
        missing = "sendWindowStart" if sendWindowStart is None else "sendWindowEnd"
        why = "required with the other sendWindow parameters"
        raise InvalidInput(f"{missing} is {why}", [Problem(missing, why)])
    window: dict[str, Any] = {"start": sendWindowStart, "end": sendWindowEnd}
    if sendWindowDays:
        window["days"] = sorted({int(day) for day in sendWindowDays.split(",")})
    return window


# /import's quiet hours: None without any of its parameters (the server's window then applies).
ImportWindow = Annotated[dict[str, Any] | None, Depends(_import_window)]


def chosen_pool(account_id: str | None, account_ids: list[str] | None) -> str | list[str]:
    """The seed's accountId, or the pool; when both are given, accountId is the pool's first."""
    if account_ids is None:
        if account_id is None:
            raise InvalidInput("accountId is required", [Problem("accountId", "Field required")])
        return account_id
    if account_id is not None and account_ids[:1] != [account_id]:
        why = "must be the first of accountIds when both are given"
        raise InvalidInput(f"accountId {why}", [Problem("accountId", why)])
    return account_ids


class DuplicateOut(BaseModel):
    index: int
    phoneNumber: str
    duplicateOf: int


class ContractCreated(BaseModel):
    id: str
    totalCount: int
    status: ContractStatus
    duplicates: list[DuplicateOut] = []
    rewrittenCount: int = Field(
        0, description="numbers written without a country code, read as numbers of DEFAULT_PHONE_REGION"
    )

    @classmethod
    def of(cls, created: Created) -> ContractCreated:
        return cls(
            id=created.contract.id,
            totalCount=created.contract.total_count,
            status=created.contract.status,
            duplicates=[
                DuplicateOut(index=d.index, phoneNumber=d.phone_number, duplicateOf=d.first_index)
                for d in created.duplicates
            ],
            rewrittenCount=created.rewritten,
        )


class ContractOut(BaseModel):
    id: str
    accountId: str
    accountIds: list[str] = Field(description=POOL)
    name: str
    status: ContractStatus
    totalCount: int
    duplicateCount: int
    errorMessage: str | None
    pausedReason: str | None = Field(description="why the contract paused itself (its account's state)")
    sendWindow: SendWindowOut = Field(description="the local hours and days it sends in (quiet hours)")
    startAt: Timestamp | None = Field(description="when it starts (or was to start) by itself; null: none")
    deadline: Timestamp | None = Field(description=DEADLINE)
    estimatedFinishAt: Timestamp | None = Field(
        description="when it will finish by its plan: its accounts' pacing, caps left today and "
        "warm-up, quiet hours in its recipients' zones (also before the start); null when paused, "
        "over, or no account of its pool can send"
    )
    waitingReason: str | None = Field(
        description="why a running contract sends nothing now (no connected account, daily cap "
        "reached, a break, paused by health rule…); null while it is sending or not running"
    )
    createdAt: Timestamp
    updatedAt: Timestamp
    startedAt: Timestamp | None
    completedAt: Timestamp | None = Field(description="when it ended: completed, failed or cancelled")
    createdBy: str | None = Field(
        description="the dashboard user who created it, `admin (API key)` for the API key; null for "
        "contracts older than this field"
    )

    @classmethod
    def of(
        cls, c: Contract, pool: list[str], waiting_reason: str | None, finish: datetime | None
    ) -> ContractOut:
        return cls(
            id=c.id,
            accountId=c.account_id,
            accountIds=pool,
            name=c.name,
            status=c.status,
            totalCount=c.total_count,
            duplicateCount=c.duplicate_count,
            errorMessage=c.error_message,
            pausedReason=c.paused_reason,
            sendWindow=SendWindowOut.of(c),
            startAt=c.start_at,
            deadline=c.deadline,
            estimatedFinishAt=finish,
            waitingReason=waiting_reason,
            createdAt=c.created_at,
            updatedAt=c.updated_at,
            startedAt=c.started_at,
            completedAt=c.completed_at,
            createdBy=c.created_by,
        )


class SuccessPhone(BaseModel):
    phoneNumber: str
    sentAt: Timestamp | None


class FailedPhone(BaseModel):
    phoneNumber: str
    errorMessage: str | None
    attempts: int


class RecipientOut(BaseModel):
    position: int = Field(description="0-based index of the recipient in the contract as created")
    phoneNumber: str
    message: str
    status: RecipientStatus
    attempts: int
    errorMessage: str | None
    sentAt: Timestamp | None
    deliveredAt: Timestamp | None
    readAt: Timestamp | None

    @classmethod
    def of(cls, r: dict[str, Any]) -> RecipientOut:
        return cls(
            position=r["position"],
            phoneNumber=r["phone_number"],
            message=r["message"],
            status=r["status"],
            attempts=r["attempts"],
            errorMessage=r["error_message"],
            sentAt=r["sent_at"],
            deliveredAt=r["delivered_at"],
            readAt=r["read_at"],
        )


class RecipientPage(BaseModel):
    items: list[RecipientOut]
    next: str | None = Field(description="pass as `after` for the next page; null on the last page")


class SkippedPhone(BaseModel):
    phoneNumber: str
    reason: str | None


class AccountProgressOut(BaseModel):
    accountId: str
    sent: int
    failed: int
    skipped: int
    status: AccountStatus = Field(description="the account's status now")


class StatsOut(BaseModel):
    status: ContractStatus
    total: int
    success: int
    failed: int
    successRate: str = Field(examples=["95.00%"])
    successPhoneNumbers: list[SuccessPhone]
    failedPhoneNumbers: list[FailedPhone]
    skipped: int
    remaining: int
    skippedPhoneNumbers: list[SkippedPhone]
    delivered: int = Field(description="recipients whose phone confirmed delivery (WhatsApp receipts)")
    read: int = Field(description="recipients who read the message (WhatsApp read receipts)")
    uncertain: int = Field(
        description="messages that may have gone out before a worker crashed (resent or failed "
        "by the account's resendUncertain)"
    )
    accounts: list[AccountProgressOut] = Field(description="what each account of the pool has sent")

    @classmethod
    def of(cls, s: Stats) -> StatsOut:
        c = s.counts
        total = s.total
        return cls(
            status=s.status,
            total=total,
            success=c["SENT"],
            failed=c["FAILED"],
            successRate=f"{(100 * c['SENT'] / total) if total else 0:.2f}%",
            successPhoneNumbers=[
                SuccessPhone(phoneNumber=r["phone_number"], sentAt=r["sent_at"]) for r in s.successes
            ],
            failedPhoneNumbers=[
                FailedPhone(
                    phoneNumber=r["phone_number"], errorMessage=r["error_message"], attempts=r["attempts"]
                )
                for r in s.failures
            ],
            skipped=c["SKIPPED"],
            remaining=c["PENDING"] + c["QUEUED"] + c["SENDING"],
            skippedPhoneNumbers=[
                SkippedPhone(phoneNumber=r["phone_number"], reason=r["error_message"]) for r in s.skipped
            ],
            delivered=s.delivered,
            read=s.read,
            uncertain=s.uncertain,
            accounts=[
                AccountProgressOut(
                    accountId=a.account_id, sent=a.sent, failed=a.failed, skipped=a.skipped, status=a.status
                )
                for a in s.accounts
            ],
        )


class StatusOut(BaseModel):
    id: str
    status: ContractStatus


class QueueCounts(BaseModel):
    waiting: int
    active: int
    completed: int
    failed: int


class MessageCounts(BaseModel):
    waiting: int
    active: int
    completed: int
    failed: int


class QueueStatus(BaseModel):
    contracts: QueueCounts
    messages: MessageCounts


RESEND_UNCERTAIN = (
    "whatsapp: a message found SENDING after a worker crash may have gone out; true sends it again "
    "(a possible duplicate), false fails it (a possible miss). Counted in stats as `uncertain`."
)


TRANSPORT = "`sandbox` (simulated), `whatsapp` (a linked phone), or a plug-in's name (TRANSPORT_PLUGINS)"


WARMUP = (
    "a warm-up plan: the daily cap for each day of the account's age, day 0 first (e.g. 20, 40, 80); "
    "after its last day the cap by age applies. [] removes it."
)
WarmupPlan = list[Annotated[int, Field(ge=0, le=10_000)]]


class AccountIn(Strict):
    name: Text = Field("", max_length=200)
    transport: Text = Field("sandbox", max_length=16, description=TRANSPORT)
    useLimits: bool = True
    warmupPlan: WarmupPlan | None = Field(None, max_length=365, description=WARMUP)
    resendUncertain: bool = Field(True, description=RESEND_UNCERTAIN)
    sandbox: SandboxConfig | None = None


class AccountUpdate(Strict):
    useLimits: bool | None = None
    warmupPlan: WarmupPlan | None = Field(None, max_length=365, description=WARMUP)
    resendUncertain: bool | None = Field(None, description=RESEND_UNCERTAIN)
    name: Text | None = Field(None, max_length=200)
    sandbox: dict[str, Any] | None = None


class PairPhoneIn(Strict):
    phone: Text = Field(max_length=40, description="the phone to link, with its country code")


class OptOutsIn(Strict):
    phoneNumbers: list[Text] = Field(min_length=1, max_length=100_000)
    reason: Text = Field("added by staff", max_length=500)


class OptOutOut(BaseModel):
    phoneNumber: str
    reason: str
    createdAt: Timestamp

    @classmethod
    def of(cls, o: OptOut) -> OptOutOut:
        return cls(phoneNumber=o.phone_number, reason=o.reason, createdAt=o.created_at)


class OptOutPage(BaseModel):
    items: list[OptOutOut]
    next: str | None = Field(description="pass as `after` for the next page; null on the last page")


class OptOutsAdded(BaseModel):
    added: int = Field(description="numbers that were not on the list before")


class QrOut(BaseModel):
    status: AccountStatus
    statusReason: str | None
    qr: str | None = Field(description="the code to render as a QR image; WhatsApp rotates it")
    qrUpdatedAt: Timestamp | None
    pairPhone: str | None
    pairCode: str | None = Field(description="the code to type on the phone, after POST pair-phone")

    @classmethod
    def of(cls, a: Account) -> QrOut:
        return cls(
            status=a.status,
            statusReason=a.status_reason,
            qr=a.qr_code,
            qrUpdatedAt=a.qr_at,
            pairPhone=a.pair_phone,
            pairCode=a.pair_code or None,
        )


class HealthOut(BaseModel):
    since: Timestamp = Field(description="the figures count from here: the window's start, or the last pause")
    sent: int
    failed: int
    retried: int = Field(description="transient errors (sent again later)")
    rateLimits: int = Field(description="times the network rate-limited the account")
    disconnects: int
    failureShare: float = Field(description="failed / (sent + failed), 0 to 1")
    paceFactor: float = Field(
        description="its pacing gaps and breaks are this many times longer (1: not slowed)"
    )
    slowedBecause: str | None = Field(description="the health rule that slows it down, while one does")
    pausedUntil: Timestamp | None = Field(
        description="a health rule rests it until then; `statusReason` says why"
    )

    @classmethod
    def of(cls, h: Health) -> HealthOut:
        f = h.figures
        return cls(
            since=f.since,
            sent=f.sent,
            failed=f.failed,
            retried=f.retried,
            rateLimits=f.rate_limits,
            disconnects=f.disconnects,
            failureShare=round(f.failure_share, 4),
            paceFactor=h.pace_factor,
            slowedBecause=h.slowed,
            pausedUntil=h.paused_until,
        )


class AccountOut(BaseModel):
    id: str
    name: str
    transport: str
    status: AccountStatus
    statusReason: str | None
    phone: str | None = Field(description="the linked phone's number, once paired")
    pushName: str | None
    useLimits: bool
    warmupPlan: list[int] | None
    dailyCap: int | None = Field(
        description="today's cap (by the warm-up plan or by age); null without limits"
    )
    resendUncertain: bool
    createdAt: Timestamp
    sandbox: SandboxConfig | None
    health: HealthOut = Field(description="what it did over the health window, and what the health rules do")

    @classmethod
    def of(cls, a: Account, health: Health) -> AccountOut:
        # Only sandbox accounts store settings of their transport.
        sandbox = SandboxConfig.model_validate(a.sandbox_config) if a.sandbox_config else None
        return cls(
            id=a.id,
            name=a.name,
            transport=a.transport,
            status=a.status,
            statusReason=a.status_reason,
            phone=a.phone,
            pushName=a.push_name,
            useLimits=a.use_limits,
            warmupPlan=a.warmup_plan,
            dailyCap=cap_today(a) if a.use_limits else None,
            resendUncertain=a.resend_uncertain,
            createdAt=a.created_at,
            sandbox=sandbox,
            health=HealthOut.of(health),
        )


class ErrorOut(BaseModel):
    error: str
    details: list[dict] = []


# Every /api route may answer these, with an ErrorOut body: unreadable JSON (400), no key (401),
# unknown id (404), a state that forbids the operation (409), too large (413), invalid (422),
# the database unreachable (503).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 404, 409, 413, 422, 503)
}
