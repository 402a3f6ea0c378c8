"""Catalog jobs inside the gateway: the job store, the input files, and one worker thread.

The worker runs jobs one after another (oldest first), one article at a time, with the catalog job runner
the CLI uses; its model calls go through the gateway's replica pool (gateway/job_backend.py). Jobs left
queued or running by a previous gateway process (a restart, a crash) are resumed when the worker starts.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from pathlib import Path

from catalog.job_options import JobOptions
from catalog.job_runner import make_runner, submit
from catalog.job_store import ACTIVE, Job, JobStore
from catalog.settings import CatalogSettings
from catalog.sheet import detect_format
from gateway.generation_service import GenerationService
from gateway.job_backend import GatewayJobBackend
from gateway.perception_service import PerceptionService
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

DATABASE = "jobs.sqlite"
STOP_WAIT_S = 60.0  # on shutdown, how long the article in progress may take to finish


class CatalogJobs:
    def __init__(self, settings: GatewaySettings, generation: GenerationService) -> None:
        self.settings = settings
        self.catalog = CatalogSettings()
        self.directory = Path(settings.jobs_dir)
        self.store = JobStore(self.directory / DATABASE)
        self.generation = generation
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, data: bytes, options: JobOptions) -> Job:
        """Stores the upload and queues its job; SheetError when the file as a whole is refused."""
        job_id = JobStore.new_id()
        folder = self.directory / job_id
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / f"input{detect_format(data)}"
        source.write_bytes(data)
        try:
            job = submit(self.store, source, folder / "out", options, self.catalog.max_file_bytes,
                         input_name=source.name, job_id=job_id)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._wake.set()
        return job

    def cancel(self, job_id: str) -> bool:
        return self.store.set_state(job_id, "cancelled", only_if=ACTIVE)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        s = self.settings
        backend = GatewayJobBackend(loop, self.generation,
                                    PerceptionService(self.generation.pool, self.generation.metrics,
                                                      s.request_timeout_s, s.retry_after_s),
                                    s.model, s.translate_model, s.request_timeout_s, self._stopping.is_set)
        runner = make_runner(self.store, backend, self.catalog)
        resumed = self.store.jobs(ACTIVE)
        if resumed:
            log.info("catalog jobs to resume: %s", ", ".join(job.id for job in resumed))
        self._thread = threading.Thread(target=self._loop, args=(runner,), name="catalog-jobs", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Lets the article in progress finish (the event loop keeps serving its calls), then returns."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, STOP_WAIT_S)

    def _loop(self, runner) -> None:
        while not self._stopping.is_set():
            jobs = self.store.jobs(ACTIVE)
            if not jobs:
                self._wake.wait()
                self._wake.clear()
                continue
            job = jobs[0]
            try:
                state = runner.run(job.id, should_stop=self._stopping.is_set)
                log.info("catalog job %s: %s", job.id, state)
            except Exception as exc:  # a broken job must not stop the worker (or hang the others)
                log.exception("catalog job %s failed", job.id)
                self.store.set_state(job.id, "failed", error=f"{type(exc).__name__}: {exc}", only_if=ACTIVE)
