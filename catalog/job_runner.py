"""The one catalog job runner (the CLI and the gateway's worker both use it).

Per article: check the text -> translate -> attributes -> prompts -> generate -> score -> quality gate,
then `<stem>.png` and `<stem>.json` are written and the item is marked finished in the store. A row
problem (empty or overlong text, a failed model call) is recorded in that item's JSON and the job goes on.
The summary is written when no item is left pending.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image

from catalog.attributes import AttributeExtractor
from catalog.backend import CatalogBackend
from catalog.job_options import JobOptions
from catalog.job_store import Counts, Item, Job, JobStore
from catalog.llm_attributes import make_extractor
from catalog.prompts import PromptTemplates, build_prompts
from catalog.quality_gate import QualityGate
from catalog.report import write_summary
from catalog.rows import text_error
from catalog.settings import CatalogSettings
from catalog.sheet import SheetError, read_articles

log = logging.getLogger(__name__)

OnItem = Callable[[Counts, dict], None]


class Interrupted(Exception):
    """A model call failed because the worker is stopping: the article is left pending, not recorded."""


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Written beside and renamed: a kill never leaves half a file under the final name."""
    partial = path.with_name(f".{path.name}.partial")
    write(partial)
    os.replace(partial, path)


@dataclass
class JobRunner:
    store: JobStore
    backend: CatalogBackend
    templates: PromptTemplates
    extractor: AttributeExtractor
    max_text_chars: int

    def run(self, job_id: str, on_item: OnItem | None = None, should_stop: Callable[[], bool] = lambda: False) -> str:
        """Runs the job's pending items; returns its state afterwards (done, cancelled, or running when stopped)."""
        job = self.store.job(job_id)
        if job is None:
            raise KeyError(job_id)
        if not self.store.set_state(job_id, "running", only_if=("queued", "running")):
            return job.state  # cancelled (or finished) meanwhile
        job.out_dir.mkdir(parents=True, exist_ok=True)
        stop = lambda: should_stop() or self._cancelled(job_id)  # noqa: E731
        for item in self.store.pending_items(job_id):
            if stop():
                break
            self.store.item_started(item)
            started = time.perf_counter()
            try:
                record = self._process(job, item, stop, should_stop)
            except Interrupted:
                log.info("job %s: article %s interrupted; it stays pending for the resume", job_id, item.article_id)
                break
            seconds = time.perf_counter() - started
            record["timings"]["total_s"] = round(seconds, 3)
            _write_atomically(job.out_dir / f"{item.stem}.json", lambda p: p.write_text(
                json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"))
            self.store.item_finished(item, record["error"] is None, record["score"], record["passed"],
                                     record["error"], seconds)
            if on_item is not None:
                on_item(self.store.counts(job_id), record)
        counts = self.store.counts(job_id)
        # The summary is written before the job reads "done": a client that downloads the results as soon as it
        # sees "done" gets summary.md and scores.png too.
        if counts.pending == 0 and self.store.job(job_id).state == "running":
            write_summary(self.store.job(job_id), counts, self.store.finished_items(job_id))
            self.store.set_state(job_id, "done", only_if=("running",))
        return self.store.job(job_id).state

    def _cancelled(self, job_id: str) -> bool:
        job = self.store.job(job_id)
        return job is None or job.state == "cancelled"

    def _process(self, job: Job, item: Item, stop: Callable[[], bool],
                 should_stop_now: Callable[[], bool] = lambda: False) -> dict:
        options = job.options
        record: dict = {"id": item.article_id, "original_text": item.text, "translation": None, "attributes": None,
                        "attributes_source": None, "generation_prompt": None, "scoring_prompt": None,
                        "negative_prompt": None, "score": None, "passed": None, "threshold": options.threshold,
                        "seed": None, "attempts": [], "model": options.model, "timings": {}, "image": None,
                        "error": None}
        timings = record["timings"]
        error = text_error(item.text, self.max_text_chars)
        if error is not None:
            log.warning("article %s: %s", item.article_id, error)
            record["error"] = error
            return record
        text = str(item.text).strip()
        stage = "translation"
        try:
            started = time.perf_counter()
            if options.translate:
                record["translation"], = self.backend.translate([text], options.num_beams, options.max_new_tokens)
            else:
                record["translation"] = text
            timings["translate_s"] = round(time.perf_counter() - started, 3)
            stage, started = "attribute extraction", time.perf_counter()
            extraction = self.extractor.extract(record["translation"])
            record["attributes"] = extraction.attributes.model_dump(mode="json")
            record["attributes_source"] = extraction.source
            prompts = build_prompts(extraction.attributes, self.templates)
            record.update(generation_prompt=prompts.generation, scoring_prompt=prompts.scoring,
                          negative_prompt=prompts.negative)
            timings["attributes_s"] = round(time.perf_counter() - started, 3)
            stage = "generation"
            gate = QualityGate(float(options.threshold), options.max_retries)
            inputs = options.generation_inputs()
            result = gate.run(
                lambda seed: self.backend.generate(prompts.generation, prompts.negative, seed, inputs),
                lambda image: self.backend.score(image, prompts.scoring),
                lambda attempt: options.item_seed(item.index, attempt), stop)
        except Exception as exc:  # one article's failure is recorded in its JSON; the job goes on
            if should_stop_now():
                raise Interrupted from exc  # the worker is shutting down (its connections close): redo it later
            log.exception("article %s: %s failed", item.article_id, stage)
            record["error"] = f"{stage} failed: {type(exc).__name__}: {exc}"
            return record
        timings["generate_s"] = round(sum(a.generate_s for a in result.attempts), 3)
        timings["score_s"] = round(sum(a.score_s for a in result.attempts), 3)
        image_path = job.out_dir / f"{item.stem}.png"
        _write_atomically(image_path, lambda p: Image.fromarray(result.image).save(p, format="PNG"))
        record.update(score=round(result.best.score, 4), passed=result.passed, seed=result.best.seed,
                      attempts=[a.record() for a in result.attempts], image=image_path.name)
        return record


def make_runner(store: JobStore, backend: CatalogBackend, settings: CatalogSettings) -> JobRunner:
    """A runner with the templates and the attribute extractor the settings name (CATALOG_*)."""
    return JobRunner(store, backend, PromptTemplates.load(settings.templates_dir), make_extractor(settings),
                     settings.max_text_chars)


def submit(store: JobStore, path: Path, out_dir: Path, options: JobOptions, max_file_bytes: int,
           input_name: str | None = None, job_id: str | None = None) -> Job:
    """Reads the input file (SheetError: the file as a whole is refused) and stores a queued job."""
    rows = read_articles(path, options.id_column, options.text_column, max_file_bytes)
    if not rows:
        raise SheetError(f"{input_name or path.name}: no article rows (every row is empty)")
    return store.create(input_name or path.name, out_dir, options, rows, job_id)
