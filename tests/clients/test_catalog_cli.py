"""`python -m clients catalog`: a catalog job through the session's real tritonserver, and its resume after
a real SIGKILL of the CLI process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from catalog.job_store import JobStore
from clients.catalog_cli import DATABASE
from clients.cli import main
from tests.catalog.job_inputs import ARTICLES_XLSX, FAST, write_csv

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def translation(triton_server) -> tuple[list[str], str]:
    """CLI flags and the input language: German through `translate` when the repository serves it."""
    import tritonclient.grpc as grpc

    client = grpc.InferenceServerClient(triton_server.grpc_url)
    try:
        served = client.is_model_ready("translate")
    finally:
        client.close()
    # greedy and short: the tiny random translator rarely stops by itself
    return (["--num-beams", "1", "--max-new-tokens", "16"], "de") if served else (["--no-translate"], "en")


def test_job_writes_every_item_and_the_summary(triton_server, translation, tmp_path: Path) -> None:
    flags, language = translation
    sheet = write_csv(tmp_path / "articles.csv", 3, language)
    out = tmp_path / "out"
    code = main(["catalog", str(sheet), "--out", str(out), "--url", triton_server.grpc_url, *FAST, *flags,
                 "--steps", "2", "--threshold", "100", "--max-retries", "1", "--seed", "5", "--no-progress"])
    assert code == 0
    records = {path.stem: json.loads(path.read_text()) for path in out.glob("*.json") if path.stem != "summary"}
    assert sorted(records) == ["A001", "A002", "A003", "EMPTY", "LONG"]
    for stem in ("A001", "A002", "A003"):
        record = records[stem]
        assert record["image"] == f"{stem}.png"
        assert Image.open(out / record["image"]).size == (64, 64)
        assert record["generation_prompt"] and record["scoring_prompt"] and record["translation"]
        assert record["attributes"] is not None and record["attributes_source"] == "rules"
        # threshold 100 is never reached: the first try and one regeneration, each with its own seed
        assert len(record["attempts"]) == 2 and not record["passed"]
        assert len({attempt["seed"] for attempt in record["attempts"]}) == 2
        assert record["score"] == max(attempt["score"] for attempt in record["attempts"])
        assert record["seed"] in {attempt["seed"] for attempt in record["attempts"]}
        assert set(record["timings"]) >= {"translate_s", "attributes_s", "generate_s", "score_s", "total_s"}
    assert "empty text" in records["EMPTY"]["error"] and records["EMPTY"]["image"] is None
    assert "text too long" in records["LONG"]["error"]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["items"], summary["done"], summary["failed"], summary["passed"]) == (5, 3, 2, 0)
    scores = [records[s]["score"] for s in ("A001", "A002", "A003")]
    assert summary["score"]["max"] == pytest.approx(max(scores), abs=1e-3)
    assert summary["score"]["min"] == pytest.approx(min(scores), abs=1e-3)
    assert summary["items_per_minute"] > 0
    assert "| 5 | 3 | 2 | 0 |" in (out / "summary.md").read_text()
    assert Image.open(out / "scores.png").format == "PNG"


def test_file_error_exits_nonzero_with_the_reason(tmp_path: Path, caplog) -> None:
    sheet = tmp_path / "articles.csv"
    sheet.write_text("article_id,preis\nA1,9.99\n", encoding="utf-8")
    assert main(["catalog", str(sheet), "--out", str(tmp_path / "out"), "--url", "127.0.0.1:1"]) == 2
    assert "no description column" in caplog.text


def _finished(database: Path) -> int:
    if not database.exists():
        return 0
    store = JobStore(database)
    jobs = store.jobs(("queued", "running", "done"))
    return store.counts(jobs[0].id).finished if jobs else 0


def test_killed_job_resumes_with_no_item_lost_or_done_twice(triton_server, translation, tmp_path: Path) -> None:
    """The shipped 30-row XLSX, killed after a few articles and run again."""
    flags, _ = translation
    count = 30
    sheet = ARTICLES_XLSX
    out = tmp_path / "out"
    command = [sys.executable, "-m", "clients", "catalog", str(sheet), "--out", str(out), "--url",
               triton_server.grpc_url, *FAST, *flags, "--steps", "10", "--max-retries", "0", "--no-progress"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while _finished(out / DATABASE) < 3:
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "the job did not get going"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    store = JobStore(out / DATABASE)
    job, = store.jobs()
    before = {stem for stem, (_, completions) in store.run_counts(job.id).items() if completions}
    assert 3 <= len(before) < count, f"killed too late: {len(before)} of {count} finished"

    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resuming job {job.id}" in result.stderr
    runs = store.run_counts(job.id)
    assert all(completions == 1 for _, completions in runs.values()), runs  # none done twice
    assert all(runs[stem][0] == 1 for stem in before), runs  # finished items were not started again
    assert store.job(job.id).state == "done"
    assert sorted(p.stem for p in out.glob("*.png") if p.stem != "scores") == sorted(runs)  # none lost
    assert json.loads((out / "summary.json").read_text())["done"] == count
