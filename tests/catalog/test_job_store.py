"""The job store: items stay pending until finished, finished ones are never handed out again, stems are
unique file names, cancel only stops active jobs."""

from __future__ import annotations

from pathlib import Path

from catalog.job_options import JobOptions
from catalog.job_store import JobStore
from catalog.rows import ArticleRow


def _store(tmp_path: Path) -> tuple[JobStore, str]:
    store = JobStore(tmp_path / "jobs.sqlite")
    rows = [ArticleRow("A/1", "Rock"), ArticleRow("A/1", "Kleid"), ArticleRow("B", None)]
    job = store.create("a.csv", tmp_path / "out", JobOptions(threshold=25, max_retries=1), rows)
    return store, job.id


def test_finished_items_are_not_pending_again_after_reopening(tmp_path: Path) -> None:
    store, job_id = _store(tmp_path)
    first, second, third = store.pending_items(job_id)
    assert (first.stem, second.stem, third.stem) == ("A_1", "A_1-2", "B")  # safe and unique file names
    store.item_started(first)
    store.item_finished(first, True, 31.5, True, None, 2.0)
    store.item_started(second)  # started, never finished: a killed worker
    reopened = JobStore(tmp_path / "jobs.sqlite")
    assert [item.index for item in reopened.pending_items(job_id)] == [1, 2]
    assert reopened.run_counts(job_id) == {"A_1": (1, 1), "A_1-2": (1, 0), "B": (0, 0)}
    counts = reopened.counts(job_id)
    assert (counts.total, counts.done, counts.pending, counts.passed, counts.seconds) == (3, 1, 2, 1, 2.0)
    assert reopened.job(job_id).options == JobOptions(threshold=25, max_retries=1)


def test_an_item_is_finished_once(tmp_path: Path) -> None:
    store, job_id = _store(tmp_path)
    item = store.pending_items(job_id)[0]
    store.item_finished(item, True, 31.5, True, None, 2.0)
    store.item_finished(item, False, None, None, "again", 1.0)  # a second finish of the same item is ignored
    assert store.run_counts(job_id)["A_1"] == (0, 1)
    assert store.finished_items(job_id)[0]["error"] is None


def test_cancel_only_stops_active_jobs(tmp_path: Path) -> None:
    store, job_id = _store(tmp_path)
    assert store.set_state(job_id, "cancelled", only_if=("queued", "running"))
    assert not store.set_state(job_id, "running", only_if=("queued", "running"))
    assert store.job(job_id).state == "cancelled" and store.job(job_id).finished is not None
    assert store.jobs() == []
