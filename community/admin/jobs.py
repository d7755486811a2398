"""Admin pages for background jobs: counts by state, dead letters to retry or discard, failures."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from community import jobs
from community.accounts.auth import require_admin
from community.errors import ServiceError
from community.web import render

Request_ = Request[Any, Any, Any]


async def _jobs_page(
    request: Request_, db: AsyncSession, status_code: int = 200, **context: Any
) -> Template:
    context.setdefault("error", None)
    # The app keeps its JobRegistry at ``state.jobs`` once jobs are wired in; without it the page
    # cannot tell which waiting names no runner knows.
    registry = getattr(request.app.state, "jobs", None)
    return render(
        request,
        "admin/jobs.html",
        status_code=status_code,
        counts=await jobs.state_counts(db),
        dead=await jobs.dead_jobs(db),
        failures=await jobs.recent_failures(db),
        waiting=await jobs.waiting_by_name(db),
        known=set(registry.jobs) if isinstance(registry, jobs.JobRegistry) else None,
        **context,
    )


@get("/")
async def jobs_page(request: Request_, db: AsyncSession) -> Template:
    return await _jobs_page(request, db)


@post("/{job_id:int}/retry")
async def retry_job(request: Request_, db: AsyncSession, job_id: int) -> Template:
    try:
        row = await jobs.retry_dead(db, job_id)
    except ServiceError as error:
        return await _jobs_page(request, db, error.status, error=error.detail)
    return await _jobs_page(request, db, notice=f"Job {row.id} ({row.name}) will run again.")


@post("/{job_id:int}/discard")
async def discard_job(request: Request_, db: AsyncSession, job_id: int) -> Template:
    try:
        await jobs.discard_dead(db, job_id)
    except ServiceError as error:
        return await _jobs_page(request, db, error.status, error=error.detail)
    return await _jobs_page(request, db, notice=f"Discarded job {job_id}.")


router = Router(
    path="/admin/jobs",
    guards=[require_admin],
    route_handlers=[jobs_page, retry_job, discard_job],
    include_in_schema=True,
    tags=["admin"],
)
