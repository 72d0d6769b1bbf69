"""Liveness and readiness: ``/healthz`` (the process answers) and ``/readyz`` (and the
database does). Neither is in the OpenAPI document; both are for load balancers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from duban import __version__
from duban.kernel.outage import ALL_OUTAGE_ERRORS, RETRY_AFTER_SECONDS

router = APIRouter(include_in_schema=False)
_log = logging.getLogger(__name__)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process is up (it does not touch the database)."""
    return {"status": "ok", "version": __version__}


def _ping(app: Any) -> None:
    with app.state.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 when the database answers, else 503 with Retry-After."""
    try:
        await run_in_threadpool(_ping, request.app)
    except ALL_OUTAGE_ERRORS as err:
        _log.warning("not ready: the database does not answer: %s", err)
        return JSONResponse(
            {"status": "unavailable", "version": __version__, "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return JSONResponse({"status": "ready", "version": __version__, "database": "ok"})
