"""Health and queue status."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

import services.health
from api.deps import require_api_key
from api.schemas import ERROR_RESPONSES, QueueStatus
from services.queues import queue_status

log = logging.getLogger(__name__)
router = APIRouter(tags=["system"])


@router.get("/health")
async def health() -> JSONResponse:
    """Open to anyone (the seed's health check): 200 when the database and Redis answer, else 503.
    What failed is logged, not told: an error's text can name users, hosts or limits."""
    checks = await services.health.check()
    for name, result in checks.items():
        if result != "ok":
            log.warning("health: %s %s", name, result)
    healthy = all(v == "ok" for v in checks.values())
    public = {name: "ok" if result == "ok" else "unavailable" for name, result in checks.items()}
    body = {"status": "ok" if healthy else "degraded", **public}
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get(
    "/api/queues/status",
    response_model=QueueStatus,
    dependencies=[Depends(require_api_key)],
    responses=ERROR_RESPONSES,
)
async def queues_status() -> QueueStatus:
    return QueueStatus.model_validate(await queue_status())
