"""The seed's queue status: contracts counted by status, messages from the kept status counts."""

from __future__ import annotations

from tortoise.functions import Count, Sum

from models import Contract, ContractStatus, RecipientStatus, StatusCount


async def _contracts_by_status() -> dict[str, int]:
    rows = await Contract.all().annotate(n=Count("id")).group_by("status").values_list("status", "n")
    counts = {str(s): 0 for s in ContractStatus}
    counts.update({str(status): n for status, n in rows})
    return counts


async def _messages_by_status() -> dict[str, int]:
    rows = await StatusCount.all().annotate(total=Sum("n")).group_by("status").values_list("status", "total")
    counts = {str(s): 0 for s in RecipientStatus}
    counts.update({str(status): int(total or 0) for status, total in rows})
    return counts


async def queue_status() -> dict:
    c = await _contracts_by_status()
    m = await _messages_by_status()
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
