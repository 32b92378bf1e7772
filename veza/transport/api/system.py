"""Operational routes: liveness, readiness and metrics."""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
from typing import Literal

from pydantic import BaseModel, Field
from quart import Blueprint, Response, request
from quart_schema import document_response, hide, tag_blueprint, validate_response

import veza
from veza.config import Settings
from veza.errors import DatabaseError, Forbidden, InvalidToken, Unauthenticated, Unavailable
from veza.transport.context import edge, services

blueprint = Blueprint("system", __name__)
tag_blueprint(blueprint, ["system"])


class Liveness(BaseModel):
    status: Literal["ok"]


class JobCounts(BaseModel):
    queued: int
    running: int
    done: int
    failed: int


class ScanState(BaseModel):
    folders: int = Field(description="music folders configured")
    state: Literal["idle", "queued", "running"]
    progress: float


class Readiness(BaseModel):
    """Each dependency's check; "unavailable" (503) names the part that failed."""

    status: Literal["ok", "unavailable"]
    version: str
    uptime_s: float
    database: str = Field(description="the backend: sqlite or postgresql")
    checks: dict[str, str] = Field(description="part -> ok, or what is wrong with it")
    jobs: JobCounts
    workers: int = Field(description="transcodes run at once")
    scan: ScanState | None = Field(
        default=None, description="the scan of the music folders (null while the database is down)"
    )


@blueprint.get("/health")
@document_response(Liveness)
async def health() -> dict[str, str]:
    """Liveness: answers without touching anything."""
    return {"status": "ok"}


@blueprint.get("/status")
@validate_response(Readiness, 200)
@validate_response(Readiness, 503)
async def status() -> tuple[Readiness, int]:
    """Readiness: every dependency checked; 503 naming the part that failed."""
    context = services()
    checks: dict[str, str] = {}
    jobs: dict[str, int] = {}
    scan: ScanState | None = None
    try:
        await context.health.check_database()
        checks["database"] = "ok"
        jobs = await context.health.job_counts()
        checks["jobs"] = "ok"
        found = await context.scans.status()
        scan = ScanState(folders=found.folders, state=found.state, progress=found.progress)  # type: ignore[arg-type]
    except Unavailable as error:
        checks["database"] = error.message
    except DatabaseError as error:
        checks["jobs"] = f"job queue: {error}"
    ready = all(value == "ok" for value in checks.values())
    body = Readiness(
        status="ok" if ready else "unavailable",
        version=veza.__version__,
        uptime_s=round(context.health.uptime_s(), 3),
        database=context.settings.database_backend,
        checks=checks,
        jobs=JobCounts(**{state: jobs.get(state, 0) for state in JobCounts.model_fields}),
        workers=context.settings.worker_count,
        scan=scan,
    )
    return body, 200 if ready else 503


@blueprint.get("/metrics")
@hide
async def metrics() -> Response:
    """Prometheus text format, for the scrapers `metrics_allow` and `metrics_token` admit."""
    _admit_scraper(services().settings)
    metrics = edge().metrics
    # Read at scrape time: the queue lives in the database, shared with other processes.
    with contextlib.suppress(DatabaseError):
        metrics.set_job_counts(await services().health.job_counts())
    bus, relay = services().events.stats(), services().relay
    metrics.set_events(
        bus.subscriptions,
        bus.published,
        bus.dropped,
        None if relay is None else (relay.lost_outbound, relay.resyncs),
    )
    return Response(metrics.render(), content_type="text/plain; version=0.0.4")


def _admit_scraper(settings: Settings) -> None:
    """Each configured limit applies: the caller's address must be in `metrics_allow` (403
    otherwise; an empty list admits any address), and when `metrics_token` is set the request
    must carry it as a bearer token (401 otherwise)."""
    if settings.metrics_allow and not _address_in(request.remote_addr, settings.metrics_allow):
        raise Forbidden("/metrics is not open to this address (see metrics_allow)")
    if settings.metrics_token:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            error: Unauthenticated = Unauthenticated("/metrics asks for a bearer token")
        elif not hmac.compare_digest(token.strip().encode(), settings.metrics_token.encode()):
            error = InvalidToken("the metrics token is wrong")
        else:
            return
        error.headers["WWW-Authenticate"] = 'Bearer realm="veza-metrics"'
        raise error


def _address_in(
    remote: str | None, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:  # a Unix socket, or no address at all
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # an IPv4 client of a dual-stack socket
    return any(address in network for network in networks)
