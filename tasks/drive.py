"""drive: the loop that sends an account's messages. Safe to run twice, re-schedules itself.

Holding the account's lease, it sends what is due (pacing permitting) and records each outcome. It
waits through pauses of up to `hold_wait_s` (a pacing gap, typing, a break; under a session host,
which cannot tell it of changes, `task_budget_s`); before a longer one (a daily cap, quiet hours,
nothing to send) it stores `next_due_at` and lets go, and the reconcile schedule has it driven
again then. Sending back to back (limits off), it lets go after
`task_budget_s` and asks for its continuation, which any worker may take.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from datetime import UTC, datetime, timedelta

from models import Account, AccountStatus, Recipient, RecipientStatus
from models.db import while_unavailable
from services import lease, session_events
from services.pacing import (
    PacingState,
    after_send,
    daily_cap,
    next_send_at,
    retry_at,
    typing_seconds,
)
from settings import Settings
from tasks import outbox
from tasks.clock import REAL, Clock
from tasks.outbox import Claimed, Outcome
from wa import registry
from wa.sender import (
    AccountUnavailable,
    BatchSender,
    Message,
    NotOnWhatsApp,
    PermanentSendError,
    Sender,
    SendError,
)

log = logging.getLogger(__name__)

IDLE_RECHECK = timedelta(seconds=60)
# How long a paced driver trusts its list of running contracts: a claim drops any paused or deleted
# since, and one started since is seen at the latest this much later, or at once if nothing else is
# due. A driver that is told to look again (tasks/drivers.py: a start kicks the pool's accounts)
# starts over then, and otherwise re-reads it only every RELIST_TOLD_S: with 10,000 accounts
# driven, re-reading every 30 s cost about 650 statements a second.
RELIST_S = 30.0
RELIST_TOLD_S = 300.0


def task_driven() -> dict[str, object]:
    """The accounts these tasks drive: connected accounts of task-driven transports. The others are
    driven by the worker holding their session (tasks/sessions.py)."""
    return {"transport__in": registry.names(task_driven=True), "status": AccountStatus.CONNECTED}


async def drive(
    account: Account,
    token: str,
    sender: Sender,
    s: Settings,
    clock: Clock = REAL,
    look_again: asyncio.Event | None = None,
) -> bool:
    """Send until the budget is spent or nothing is due; True if more is due right away.
    `look_again`, when given, is set when the account was kicked (a contract started, its settings
    changed): the driver then returns at once, for its caller to read the account again."""
    rng = random.Random()
    state = PacingState.load(account.pacing_state)
    age_days = (clock.now() - account.created_at).total_seconds() / 86400
    deadline = clock.monotonic() + s.task_budget_s
    # With limits off, batches grow to fit batch_window_s. A network that cannot take our message id
    # gets one message at a time, so a crash leaves at most one row whose fate is unknown.
    batched = not account.use_limits and registry.transport(account.transport).takes_our_ids
    batch_size = min(8, s.batch_size) if batched else 1
    # Paced, claims, the check after typing and records wait up to a tenth of a second to go with
    # other drivers' (models/group_commit.py); back to back that wait would slow it, and under a
    # simulated clock it would be real time that holds the simulated time still.
    grouped = account.use_limits and clock is REAL
    if await _resting(account, token, clock.now()):
        return False
    running: list[outbox.Running] = []
    listed_at: float | None = None
    relist_s = (RELIST_S if look_again is None else RELIST_TOLD_S) if account.use_limits else 0.0
    # A driver told of changes (tasks/drivers.py) waits through breaks: waiting costs next to
    # nothing, where letting go and being adopted again cost a dozen statements and a trip through
    # the queue. One that is not (a session host's) lets go, and re-reads its account, at each.
    hold_s = s.hold_wait_s if look_again is not None else s.task_budget_s
    while True:
        now = clock.now()
        if account.use_limits:
            due = next_send_at(state, now.timestamp(), daily_cap(age_days, s, account.warmup_plan), s)
            wait = due - now.timestamp()
            if wait > 0:
                if wait > hold_s:
                    await _schedule(account.id, token, datetime.fromtimestamp(due, UTC))
                    return False
                await clock.sleep(wait)
                continue
        if look_again is not None and look_again.is_set():
            return False  # kicked: a contract started or its settings changed; driven again at once
        listed_now = listed_at is None or clock.monotonic() - listed_at > relist_s
        if listed_now:  # back to back (relist_s 0), its contracts take turns by batch
            running, listed_at = await outbox.active_contracts(account.id), clock.monotonic()
        claim = await outbox.claim(account.id, running, now, batch_size, grouped=grouped)
        batch = claim.rows
        if claim.account is not None and await _stands_down(account, token, claim.account, now):
            # Logged out, or paused by a health rule, since it was read: the rows it holds went to
            # the pool then, and these (perhaps among them) follow.
            await outbox.unclaim(batch[0].contract_id, [r.id for r in batch], release=True)
            return False
        if not batch and not listed_now:
            listed_at = None  # a contract may have started since the list was made: look again
            continue
        if not batch:
            still_open = await outbox.finish_done_contracts([r.contract_id for r in running], now)
            running = [r for r in running if r.contract_id in still_open]
            await _schedule(account.id, token, await _next_wake(account.id, running, now))
            return False
        if account.use_limits and not batch[0].opted_out:
            first = batch[0]
            await sender.show_typing(first.phone_number, typing_seconds(first.message, s))
            if not await _still_to_send(first, running, clock.now(), grouped):
                await outbox.unclaim(first.contract_id, [first.id])
                continue
        started = clock.monotonic()
        outcomes, stopped = await _send_batch(sender, batch, s, now)
        sent_at = clock.now()
        if batched and outcomes:
            batch_size = _next_batch_size(len(outcomes), clock.monotonic() - started, s)
        if account.use_limits and outcomes and outcomes[0].status != RecipientStatus.SKIPPED:
            state = after_send(state, sent_at.timestamp(), rng, s, account.pace_factor)
        # These messages are out: if the database is restarting, wait for it rather than leave them
        # SENDING, which would have them sent again (same message id) once the lease runs out.
        done = outbox.Record(account.id, token, outcomes, sent_at, state.dump())
        record = functools.partial(outbox.record, done, grouped=grouped)
        what = f"recording {len(outcomes)} outcomes of {account.id}"
        await while_unavailable(record, budget_s=s.db_outage_wait_s, what=what)
        if stopped is not None:
            unsent = batch[len(outcomes) :]
            await outbox.unclaim(unsent[0].contract_id, [r.id for r in unsent])
            await session_events.account_lost(account.id, stopped.status, stopped.reason)
            return False
        if not account.use_limits and clock.monotonic() > deadline:
            await _schedule(account.id, token, sent_at)
            return True


async def _still_to_send(r: Claimed, running: list[outbox.Running], now: datetime, grouped: bool) -> bool:
    """After "typing…": whether the recipient may still be sent to (its contract was not paused or
    deleted meanwhile, and its window did not shut)."""
    (contract,) = [c for c in running if c.contract_id == r.contract_id]
    if not contract.is_open_for(r.time_zone, now):
        return False
    return await outbox.is_running(r.contract_id, grouped=grouped)


async def _next_wake(account_id: str, running: list[outbox.Running], now: datetime) -> datetime | None:
    """When an account that found nothing to send should look again: its next retry, a window
    opening where it is shut, and at the latest IDLE_RECHECK later while a contract runs (rows held
    by other accounts of the pool may come back to it). None when nothing runs: a start kicks it."""
    if not running:
        return None
    contract_ids = [r.contract_id for r in running]
    wakes = [await outbox.next_retry_at(account_id, contract_ids, now), *(r.opens_at(now) for r in running)]
    return min([t for t in wakes if t is not None] + [now + IDLE_RECHECK])


async def _stands_down(account: Account, token: str, seen: outbox.AccountNow, now: datetime) -> bool:
    """Take up what the API and the health rules decided since the account was read (a log-out, a
    pause, a new pace); True if it must stop now."""
    if seen.status != AccountStatus.CONNECTED:
        return True
    account.paused_until, account.pace_factor = seen.paused_until, seen.pace_factor
    return await _resting(account, token, now)


async def _resting(account: Account, token: str, now: datetime) -> bool:
    """Whether a health rule still pauses the account (then it is scheduled for the pause's end);
    a pause that is over is cleared, with its reason."""
    if account.paused_until is None:
        return False
    if account.paused_until > now:
        await _schedule(account.id, token, account.paused_until)
        return True
    await lease.fenced_update(account.id, token, paused_until=None, status_reason=None)
    return False


def _next_batch_size(sent: int, took_s: float, s: Settings) -> int:
    """Size batches to last about `batch_window_s`, so a pause takes effect within a second."""
    per_message = max(took_s / sent, 1e-6)
    return max(1, min(s.batch_size, int(s.batch_window_s / per_message)))


async def _send_batch(
    sender: Sender, batch: list[Claimed], s: Settings, now: datetime
) -> tuple[list[Outcome], AccountUnavailable | None]:
    """Send in order; stop at the first error of the account itself (the rest stay unsent)."""
    if isinstance(sender, BatchSender) and len(batch) > 1:
        return await _send_at_once(sender, batch, s, now)
    outcomes = []
    for r in batch:
        if r.opted_out:
            outcomes.append(Outcome(r.contract_id, r.id, RecipientStatus.SKIPPED, "opted out"))
            continue
        try:
            outcomes.append(await _send_one(sender, r, s, now))
        except AccountUnavailable as exc:
            return outcomes, exc
    return outcomes, None


async def _send_at_once(
    sender: BatchSender, batch: list[Claimed], s: Settings, now: datetime
) -> tuple[list[Outcome], AccountUnavailable | None]:
    to_send = [r for r in batch if not r.opted_out]
    errors = await sender.send_many(
        [Message(r.phone_number, r.message, r.message_id, r.attempts + 1) for r in to_send]
    )
    error_of = {r.id: error for r, error in zip(to_send, errors, strict=True)}
    outcomes = []
    for r in batch:
        error = error_of.get(r.id)
        if isinstance(error, AccountUnavailable):
            return outcomes, error
        if r.id in error_of:
            outcomes.append(_outcome(r, error, s, now))
        else:
            outcomes.append(Outcome(r.contract_id, r.id, RecipientStatus.SKIPPED, "opted out"))
    return outcomes, None


async def _send_one(sender: Sender, r: Claimed, s: Settings, now: datetime) -> Outcome:
    try:
        network_id = await sender.send(r.phone_number, r.message, r.message_id, r.attempts + 1)
    except AccountUnavailable:
        raise
    except SendError as exc:
        return _outcome(r, exc, s, now)
    if network_id:
        # Out, under an id we could not choose: keep it before anything else, so that a crash from
        # here on leaves a row that says it was sent (tasks/sessions.py settles such rows).
        keep = functools.partial(Recipient.filter(id=r.id).update, network_id=network_id)
        await while_unavailable(keep, budget_s=s.db_outage_wait_s, what=f"keeping the id of {r.id}")
    return _outcome(r, None, s, now)


def _outcome(r: Claimed, error: SendError | None, s: Settings, now: datetime) -> Outcome:
    """What a send's result means for the recipient: sent, skipped, failed, or retried later."""
    if error is None:
        return Outcome(r.contract_id, r.id, RecipientStatus.SENT)
    if isinstance(error, NotOnWhatsApp):
        return Outcome(r.contract_id, r.id, RecipientStatus.SKIPPED, str(error))
    if isinstance(error, PermanentSendError) or r.attempts + 1 >= s.max_attempts:
        return Outcome(r.contract_id, r.id, RecipientStatus.FAILED, str(error))
    return Outcome(r.contract_id, r.id, RecipientStatus.QUEUED, str(error), retry_at(r.attempts, now, s))


async def _schedule(account_id: str, token: str, due: datetime | None) -> None:
    await lease.fenced_update(account_id, token, next_due_at=due)
