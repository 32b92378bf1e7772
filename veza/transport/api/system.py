"""Operational routes: liveness, readiness and metrics."""

from __future__ import annotations

import contextlib
from typing import Any

from quart import Blueprint, Response
from quart_schema import hide

import veza
from veza.errors import DatabaseError, Unavailable
from veza.transport.context import edge, services

blueprint = Blueprint("system", __name__)


@blueprint.get("/health")
async def health() -> dict[str, str]:
    """Liveness: answers without touching anything."""
    return {"status": "ok"}


@blueprint.get("/status")
async def status() -> tuple[dict[str, Any], int]:
    """Readiness: every dependency checked; 503 naming the part that failed."""
    context = services()
    checks: dict[str, str] = {}
    jobs: dict[str, int] = {}
    try:
        await context.health.check_database()
        checks["database"] = "ok"
        jobs = await context.health.job_counts()
        checks["jobs"] = "ok"
    except Unavailable as error:
        checks["database"] = error.message
    except DatabaseError as error:
        checks["jobs"] = f"job queue: {error}"
    ready = all(value == "ok" for value in checks.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "version": veza.__version__,
        "uptime_s": round(context.health.uptime_s(), 3),
        "database": context.settings.database_backend,
        "checks": checks,
        "jobs": {state: jobs.get(state, 0) for state in ("queued", "running", "done", "failed")},
        "workers": context.settings.worker_count,
    }
    return body, 200 if ready else 503


@blueprint.get("/metrics")
@hide
async def metrics() -> Response:
    metrics = edge().metrics
    # Read at scrape time: the queue lives in the database, shared with other processes.
    with contextlib.suppress(DatabaseError):
        metrics.set_job_counts(await services().health.job_counts())
    return Response(metrics.render(), content_type="text/plain; version=0.0.4")
