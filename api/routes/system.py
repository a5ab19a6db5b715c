"""Health and queue status."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import require_api_key
from api.schemas import QueueStatus
from services.queues import queue_status

router = APIRouter(tags=["system"])


@router.get("/health")
async def health() -> dict:
    """Liveness, open to anyone (the seed's health check)."""
    return {"status": "ok"}


@router.get("/api/queues/status", response_model=QueueStatus, dependencies=[Depends(require_api_key)])
async def queues_status() -> QueueStatus:
    return QueueStatus.model_validate(await queue_status())
