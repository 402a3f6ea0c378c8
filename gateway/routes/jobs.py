"""Catalog job routes: POST /v1/jobs (upload a sheet), GET /v1/jobs[/{id}] (state, counts, ETA),
GET /v1/jobs/{id}/events (SSE), GET /v1/jobs/{id}/results (zip), DELETE /v1/jobs/{id} (cancel).

The upload is a multipart form: `file` (XLSX, CSV or a JSON list; the format is read from its bytes) and
the job options (catalog/job_options.py) as fields. A file that cannot be read as a whole (encrypted or
malformed XLSX, missing column, too large, no rows) is a 400 naming the reason; row problems are recorded
in the article's JSON and the job goes on. The work itself runs in the gateway's job worker.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path
from typing import AsyncIterator, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StrictInt, create_model

from catalog.job_options import JobOptions
from catalog.job_store import FINAL, Job, JobStore
from catalog.sheet import SheetError
from gateway import openapi_docs
from gateway.errors import GatewayError, invalid
from gateway.job_worker import CatalogJobs
from gateway.request_body import read_body
from gateway.security import check_api_key
from gateway.settings import GatewaySettings
from gateway.sse import EventStreamResponse, event

JOBS_PATH = "/v1/jobs"
EVENT_POLL_S = 0.5
JobState = Literal["queued", "running", "done", "cancelled", "failed"]


class JobCounts(BaseModel):
    total: int
    done: int = Field(description="articles with an image")
    failed: int = Field(description="articles with a row error (recorded in their JSON)")
    pending: int
    passed: int = Field(description="articles whose kept image reached the threshold")


class JobStatus(BaseModel):
    id: str
    state: JobState
    input: str
    created: float = Field(description="Unix time")
    finished: float | None = None
    counts: JobCounts
    progress: float = Field(ge=0, le=1, description="finished articles / all")
    eta_s: float | None = Field(None, description="seconds left at the mean time per article so far")
    items_per_minute: float | None = None
    error: str | None = None
    results_url: str
    events_url: str


class JobItemEvent(BaseModel):
    """One article finished (`state` done: it has an image; failed: a row error)."""

    id: str
    state: Literal["done", "failed"]
    score: float | None = None
    passed: bool | None = None
    error: str | None = None
    seconds: float | None = None


class JobList(BaseModel):
    jobs: list[JobStatus]


def _jobs(request: Request) -> CatalogJobs:
    return request.app.state.catalog_jobs


def _job(store: JobStore, job_id: str) -> Job:
    job = store.job(job_id)
    if job is None:
        raise GatewayError(404, f"no job {job_id!r}", param="job_id", code="not_found")
    return job


def job_status(store: JobStore, job: Job) -> JobStatus:
    counts = store.counts(job.id)
    per_item = counts.seconds / counts.finished if counts.finished else None
    active = job.state not in FINAL
    return JobStatus(
        id=job.id, state=job.state, input=job.input_name, created=job.created, finished=job.finished,
        counts=JobCounts(total=counts.total, done=counts.done, failed=counts.failed, pending=counts.pending,
                         passed=counts.passed),
        progress=round(counts.finished / counts.total, 4) if counts.total else 1.0,
        eta_s=round(per_item * counts.pending, 1) if per_item is not None and active else (0.0 if not active else None),
        items_per_minute=round(60 / per_item, 3) if per_item else None, error=job.error,
        results_url=f"{JOBS_PATH}/{job.id}/results", events_url=f"{JOBS_PATH}/{job.id}/events")


def job_form(settings: GatewaySettings) -> type[JobOptions]:
    """The job options within this gateway's limits (sizes, steps, schedulers), as its other routes have them."""
    multiple, largest = settings.size_multiple, settings.max_image_size
    side = (StrictInt | None, Field(None, ge=multiple, le=largest, multiple_of=multiple))
    return create_model("JobForm", __base__=JobOptions, height=side, width=side,
                        num_inference_steps=(StrictInt | None, Field(None, ge=1, le=settings.max_steps)),
                        scheduler=(Literal[tuple(settings.schedulers)] | None, None))


async def create_job(request: Request, form: type[JobOptions]) -> JSONResponse:
    """Start a catalog job from an uploaded sheet (multipart: `file` and the options)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise invalid("file", "invalid 'file': upload the sheet as a multipart/form-data file field",
                      code="invalid_body")
    body, files = await read_body(request, form, file_fields={"file"})
    options = JobOptions.model_validate(body.model_dump())
    uploads = files.get("file", [])
    if len(uploads) != 1:
        raise invalid("file", f"invalid 'file': give one file (XLSX, CSV or a JSON list), got {len(uploads)}")
    jobs = _jobs(request)
    try:
        job = await asyncio.to_thread(jobs.submit, uploads[0], options)
    except SheetError as error:
        raise invalid("file", f"invalid 'file': {error}", code="invalid_file") from None
    status = await asyncio.to_thread(job_status, jobs.store, job)
    return JSONResponse(status.model_dump(), status_code=202, headers={"Location": f"{JOBS_PATH}/{job.id}"})


async def list_jobs(request: Request) -> JSONResponse:
    """Every job, newest first."""
    store = _jobs(request).store

    def statuses() -> list[dict]:
        jobs = store.jobs(("queued", "running", *FINAL))
        return [job_status(store, job).model_dump() for job in reversed(jobs)]

    return JSONResponse({"jobs": await asyncio.to_thread(statuses)})


async def get_job(request: Request, job_id: str) -> JSONResponse:
    """A job's state, counts, progress and ETA."""
    store = _jobs(request).store
    job = await asyncio.to_thread(_job, store, job_id)
    return JSONResponse((await asyncio.to_thread(job_status, store, job)).model_dump())


async def cancel_job(request: Request, job_id: str) -> JSONResponse:
    """Cancel a queued or running job (it stops after the article in progress); a finished job is left as it is."""
    jobs = _jobs(request)
    await asyncio.to_thread(_job, jobs.store, job_id)
    await asyncio.to_thread(jobs.cancel, job_id)
    job = await asyncio.to_thread(_job, jobs.store, job_id)
    return JSONResponse((await asyncio.to_thread(job_status, jobs.store, job)).model_dump())


async def job_events(request: Request, job_id: str) -> EventStreamResponse:
    """Server-Sent Events: `progress` (the job's status) whenever it changes, `item` per finished article,
    `end` with the final status."""
    store = _jobs(request).store
    await asyncio.to_thread(_job, store, job_id)

    async def events() -> AsyncIterator[bytes]:
        last_finished, last_status = 0.0, None
        while True:
            job = await asyncio.to_thread(_job, store, job_id)
            for item in await asyncio.to_thread(store.finished_items, job_id, last_finished):
                last_finished = item["finished"]
                yield event("item", JobItemEvent(id=item["article_id"], state=item["state"], score=item["score"],
                                                 passed=None if item["passed"] is None else bool(item["passed"]),
                                                 error=item["error"], seconds=item["seconds"]))
            status = await asyncio.to_thread(job_status, store, job)
            if job.state in FINAL:
                yield event("end", status)
                return
            key = (status.state, status.counts)
            if key != last_status:
                last_status = key
                yield event("progress", status)
            await asyncio.sleep(EVENT_POLL_S)

    return EventStreamResponse(events())


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.glob("*")) if folder.exists() else ():
            if path.is_file() and not path.name.startswith("."):  # not the partial files being written
                archive.write(path, path.name)
    return buffer.getvalue()


async def job_results(request: Request, job_id: str) -> Response:
    """The job's output folder as a zip: `<id>.png`, `<id>.json`, and when done summary.json, summary.md,
    scores.png (partial while the job runs)."""
    store = _jobs(request).store
    job = await asyncio.to_thread(_job, store, job_id)
    data = await asyncio.to_thread(_zip, job.out_dir)
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="catalog-{job.id}.zip"'})


def build_router(settings: GatewaySettings) -> APIRouter:
    router = APIRouter(tags=["catalog jobs"], dependencies=[Depends(check_api_key)])
    form = job_form(settings)

    async def start_job(request: Request) -> JSONResponse:
        return await create_job(request, form)
    errors = lambda *codes: openapi_docs.error_responses((401, 500, *codes))  # noqa: E731
    status_json = openapi_docs.json_content(JobStatus)
    upload = openapi_docs.request_body(form, file_fields=["file"], json=False, required=["file"])
    router.add_api_route(JOBS_PATH, start_job, methods=["POST"], summary=create_job.__doc__, name="create_job",
                         status_code=202, openapi_extra=upload,
                         responses={202: {"content": status_json, "description": "the job, queued"},
                                    **errors(400, 413)})
    router.add_api_route(JOBS_PATH, list_jobs, methods=["GET"], summary=(list_jobs.__doc__ or "").strip(),
                         responses={200: {"content": openapi_docs.json_content(JobList), "description": "jobs"},
                                    **errors()})
    for path, endpoint, method, content, description in (
            ("/{job_id}", get_job, "GET", status_json, "the job"),
            ("/{job_id}", cancel_job, "DELETE", status_json, "the job after the cancel request"),
            ("/{job_id}/events", job_events, "GET",
             openapi_docs.event_stream({"progress": JobStatus, "item": JobItemEvent, "end": JobStatus}),
             "Server-Sent Events until the job is finished"),
            ("/{job_id}/results", job_results, "GET",
             {"application/zip": {"schema": {"type": "string", "format": "binary"}}}, "zip of the output folder")):
        router.add_api_route(JOBS_PATH + path, endpoint, methods=[method],
                             summary=(endpoint.__doc__ or "").split("\n")[0].strip(),
                             responses={200: {"content": content, "description": description}, **errors(404)})
    return router
