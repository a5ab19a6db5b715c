"""The seed's queue status, derived from contract and recipient rows (never from drifting counters)."""

from __future__ import annotations

from tortoise.functions import Count

from models import Contract, ContractStatus, Recipient, RecipientStatus


async def _count_by_status(model: type, statuses: list) -> dict[str, int]:
    rows = await (
        model.filter(status__in=statuses)
        .annotate(n=Count("id"))
        .group_by("status")
        .values_list("status", "n")
    )
    counts = {str(s): 0 for s in statuses}
    counts.update({str(status): n for status, n in rows})
    return counts


async def queue_status() -> dict:
    c = await _count_by_status(Contract, list(ContractStatus))
    m = await _count_by_status(
        Recipient,
        [RecipientStatus.QUEUED, RecipientStatus.SENDING, RecipientStatus.SENT, RecipientStatus.FAILED],
    )
    return {
        "contracts": {
            "waiting": c["QUEUED"] + c["PAUSED"] + c["PENDING"],
            "active": c["IN_PROGRESS"],
            "completed": c["COMPLETED"],
            "failed": c["FAILED"],
        },
        "messages": {
            "waiting": m["QUEUED"],
            "active": m["SENDING"],
            "completed": m["SENT"],
            "failed": m["FAILED"],
        },
    }
