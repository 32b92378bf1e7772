"""Admin routes for the work behind the library: the job queue (retry, cancel) and the scan of
the music folders. (User administration is in accounts.py.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import tag_blueprint, validate_querystring, validate_response

from veza.accounts import Permission
from veza.errors import Conflict, NotFound
from veza.nursery.jobs import Job
from veza.tracks.scan import ScanStatus
from veza.transport.context import services
from veza.transport.guard import require
from veza.transport.openapi import errors
from veza.transport.pagination import Page, PageQuery, page_of
from veza.transport.timestamps import utc

blueprint = Blueprint("admin", __name__)
tag_blueprint(blueprint, ["admin"])

CANCELLED = "cancelled by an admin"


class JobOut(BaseModel):
    id: str
    kind: str = Field(description="transcode or scan")
    subject_id: str = Field(description="what it works on: a track id, or music-folders")
    status: Literal["queued", "running", "done", "failed"]
    attempts: int
    max_attempts: int
    progress: float
    error: str | None = Field(description="why it failed (or why its last attempt did)")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            kind=job.kind,
            subject_id=job.subject_id,
            status=job.status,  # type: ignore[arg-type]
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            progress=job.progress,
            error=job.error,
            created_at=utc(job.created_at),
            updated_at=utc(job.updated_at),
        )


class JobQuery(PageQuery):
    status: Literal["queued", "running", "done", "failed"] | None = None


class ScanOut(BaseModel):
    folders: int = Field(description="music folders configured")
    state: Literal["idle", "queued", "running"]
    job_id: str | None
    progress: float
    last: dict[str, Any] | None = Field(
        description="the last finished scan: when, and how many files were added, updated, "
        "removed, unchanged and skipped (and why)"
    )

    @classmethod
    def of(cls, status: ScanStatus) -> ScanOut:
        return cls(
            folders=status.folders,
            state=status.state,  # type: ignore[arg-type]
            job_id=status.job_id,
            progress=status.progress,
            last=status.last,
        )


@blueprint.get("/api/v1/admin/jobs")
@require(Permission.MANAGE_USERS)
@validate_querystring(JobQuery)
@validate_response(Page[JobOut])
async def list_jobs(query_args: JobQuery) -> Page[JobOut]:
    """The job queue, newest first: queued, running, done and failed jobs with their reasons."""
    items, next_cursor = await page_of(
        query_args,
        (float, str),
        lambda after, limit: services().workers.jobs(query_args.status, after, limit),
        lambda job: (job.created_at, job.id),
    )
    return Page[JobOut](items=[JobOut.of(job) for job in items], next_cursor=next_cursor)


async def _job(job_id: str) -> Job:
    job = await services().workers.job(job_id)
    if job is None:
        raise NotFound("no such job")
    return job


@blueprint.post("/api/v1/admin/jobs/<job_id>/retry")
@require(Permission.MANAGE_USERS)
@errors(409, why={409: "conflict: only a failed job can be retried (or a scan is queued)"})
@validate_response(JobOut)
async def retry_job(job_id: str) -> JobOut:
    """Queue a failed job again, with its attempts anew."""
    await _job(job_id)
    await services().workers.retry(job_id)
    return JobOut.of(await _job(job_id))


@blueprint.post("/api/v1/admin/jobs/<job_id>/cancel")
@require(Permission.MANAGE_USERS)
@errors(409, why={409: "conflict: the job has already ended"})
@validate_response(JobOut)
async def cancel_job(job_id: str) -> JobOut:
    """Stop a queued or running job: it fails with the reason "cancelled by an admin"."""
    await _job(job_id)
    job = await services().workers.cancel_job(job_id, CANCELLED)
    if job is None:
        raise Conflict("the job has already ended")
    return JobOut.of(await _job(job_id))


@blueprint.get("/api/v1/admin/scan")
@require(Permission.MANAGE_USERS)
@validate_response(ScanOut)
async def scan_status() -> ScanOut:
    """The scan of the music folders: running or not, and what the last one found."""
    return ScanOut.of(await services().scans.status())


@blueprint.post("/api/v1/admin/scan")
@require(Permission.MANAGE_USERS)
@errors(409, why={409: "conflict: no music folder is configured"})
@validate_response(ScanOut, 202)
async def start_scan() -> tuple[ScanOut, int]:
    """Scan the music folders now (or follow the scan already queued or running)."""
    if await services().scans.request() is None:
        raise Conflict("no music folder is configured (music_folders)")
    return ScanOut.of(await services().scans.status()), 202
