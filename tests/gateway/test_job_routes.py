"""Catalog jobs through a real gateway in front of the session's tritonserver: upload, SSE, status, zip,
cancel, file-level 400s naming the reason, and a gateway process killed mid-job that resumes on restart."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from catalog.job_store import JobStore
from gateway.job_worker import DATABASE
from tests.catalog.job_inputs import ARTICLES_XLSX, write_csv
from tests.gateway.conftest import wait_until

FAST = {"height": "64", "width": "64", "num_inference_steps": "2", "max_retries": "0"}


@pytest.fixture(scope="module")
def translation(triton_server) -> tuple[dict[str, str], str]:
    """Form fields and the input language: German through `translate` when the repository serves it."""
    import tritonclient.grpc as grpc

    client = grpc.InferenceServerClient(triton_server.grpc_url)
    try:
        served = client.is_model_ready("translate")
    finally:
        client.close()
    # greedy and short: the tiny random translator rarely stops by itself
    return ({"num_beams": "1", "max_new_tokens": "16"}, "de") if served else ({"translate": "false"}, "en")


@pytest.fixture(scope="module")
def jobs_gateway(launch_gateway):
    """A gateway whose catalog file limit is small enough to test (CATALOG_* from its .env)."""
    with launch_gateway(dotenv="CATALOG_MAX_FILE_BYTES=20000\n") as gateway:  # stopped when the module ends
        yield gateway


def _post(gateway, data: bytes, fields: dict[str, str], name: str = "articles.csv") -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/jobs", files={"file": (name, data)}, data=fields, timeout=30)


def _events(gateway, job_id: str) -> list[tuple[str, dict]]:
    events = []
    with httpx.stream("GET", f"{gateway.url}/v1/jobs/{job_id}/events", timeout=300) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    return events


def test_job_runs_end_to_end_with_events_status_and_zip(jobs_gateway, translation, tmp_path: Path) -> None:
    fields, language = translation
    sheet = write_csv(tmp_path / "articles.csv", 3, language)
    response = _post(jobs_gateway, sheet.read_bytes(), {**FAST, **fields})
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["state"] in ("queued", "running") and job["counts"]["total"] == 5

    events = _events(jobs_gateway, job["id"])
    items = [data for name, data in events if name == "item"]
    assert sorted(item["id"] for item in items) == ["A001", "A002", "A003", "EMPTY", "LONG"]
    assert {item["id"]: item["state"] for item in items}["EMPTY"] == "failed"
    end = events[-1]
    assert end[0] == "end" and end[1]["state"] == "done" and end[1]["progress"] == 1.0

    status = httpx.get(f"{jobs_gateway.url}/v1/jobs/{job['id']}", timeout=10).json()
    assert status["counts"] == {"total": 5, "done": 3, "failed": 2, "pending": 0,
                                "passed": status["counts"]["passed"]}
    assert status["eta_s"] == 0.0 and status["items_per_minute"] > 0
    listed = httpx.get(f"{jobs_gateway.url}/v1/jobs", timeout=10).json()["jobs"]
    assert job["id"] in [entry["id"] for entry in listed]

    results = httpx.get(f"{jobs_gateway.url}/v1/jobs/{job['id']}/results", timeout=30)
    assert results.headers["content-type"] == "application/zip"
    names = set(zipfile.ZipFile(io.BytesIO(results.content)).namelist())
    assert names == {"A001.png", "A002.png", "A003.png", "A001.json", "A002.json", "A003.json", "EMPTY.json",
                     "LONG.json", "summary.json", "summary.md", "scores.png"}
    record = json.loads(zipfile.ZipFile(io.BytesIO(results.content)).read("LONG.json"))
    assert "text too long" in record["error"]


@pytest.mark.parametrize(("name", "data", "fields", "reason"), [
    ("locked.xlsx", None, {}, "password-protected"),
    ("broken.xlsx", b"PK\x03\x04 not really a zip", {}, "malformed XLSX"),
    ("articles.xlsx", ARTICLES_XLSX.read_bytes(), {"text_column": "langtext"}, "missing column 'langtext'"),
    ("big.csv", b"article_id,beschreibung\n" + b"A1,Rock\n" * 4000, {}, "file too large"),
    ("empty.csv", b"article_id,beschreibung\n,\n", {}, "no article rows"),
])
def test_file_level_errors_are_400_naming_the_reason(jobs_gateway, name, data, fields, reason) -> None:
    if data is None:
        from msoffcrypto.format.ooxml import OOXMLFile

        encrypted = io.BytesIO()
        with ARTICLES_XLSX.open("rb") as source:
            OOXMLFile(source).encrypt("secret", encrypted)
        data = encrypted.getvalue()
    response = _post(jobs_gateway, data, fields, name)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "file" and reason in error["message"]


def test_request_errors(jobs_gateway) -> None:
    url = jobs_gateway.url
    assert httpx.post(f"{url}/v1/jobs", json={"threshold": 20}, timeout=10).json()["error"]["param"] == "file"
    bad = _post(jobs_gateway, b"article_id,beschreibung\nA,Rock\n", {"max_retries": "-1"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "max_retries"
    missing = httpx.get(f"{url}/v1/jobs/nosuchjob", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert httpx.delete(f"{url}/v1/jobs/nosuchjob", timeout=10).status_code == 404


def test_cancel_stops_a_job(jobs_gateway, translation, tmp_path: Path) -> None:
    fields, language = translation
    sheet = write_csv(tmp_path / "articles.csv", 10, language, bad_rows=False)
    job = _post(jobs_gateway, sheet.read_bytes(), {**FAST, **fields, "num_inference_steps": "25"}).json()
    cancelled = httpx.delete(f"{jobs_gateway.url}/v1/jobs/{job['id']}", timeout=10).json()
    assert cancelled["state"] == "cancelled"
    events = _events(jobs_gateway, job["id"])  # ends at once: the job is final
    assert events[-1][0] == "end" and events[-1][1]["state"] == "cancelled"
    status_url = f"{jobs_gateway.url}/v1/jobs/{job['id']}"
    pending = httpx.get(status_url, timeout=10).json()["counts"]["pending"]
    time.sleep(3)  # ten articles at 25 steps take far longer: a job still running would finish some more
    status = httpx.get(status_url, timeout=10).json()
    assert status["state"] == "cancelled"
    assert status["counts"]["pending"] >= pending - 1 >= 8  # at most the article in progress finished


def test_killed_gateway_resumes_the_job_on_restart(start_gateway, translation, tmp_path: Path) -> None:
    """The shipped 30-row XLSX through the job API; the gateway is killed after a few articles."""
    fields, _ = translation
    jobs_dir = tmp_path / "jobs"
    first = start_gateway(jobs_dir=jobs_dir)
    count = 30
    job = _post(first, ARTICLES_XLSX.read_bytes(), {**FAST, **fields, "num_inference_steps": "10"},
                "articles.xlsx").json()
    status_url = f"{first.url}/v1/jobs/{job['id']}"
    wait_until(lambda: httpx.get(status_url, timeout=10).json()["counts"]["done"] >= 3, 300, 0.05)
    first.kill()  # SIGKILL of the gateway process, mid-job
    store = JobStore(jobs_dir / DATABASE)
    before = {stem for stem, (_, completions) in store.run_counts(job["id"]).items() if completions}
    assert 3 <= len(before) < count, f"killed too late: {len(before)} of {count} finished"

    second = start_gateway(jobs_dir=jobs_dir)
    wait_until(lambda: httpx.get(f"{second.url}/v1/jobs/{job['id']}", timeout=10).json()["state"] == "done", 300, 0.2)
    runs = store.run_counts(job["id"])
    assert all(completions == 1 for _, completions in runs.values()), runs  # none done twice
    assert all(runs[stem][0] == 1 for stem in before), runs  # finished articles were not started again
    results = httpx.get(f"{second.url}/v1/jobs/{job['id']}/results", timeout=30)
    names = set(zipfile.ZipFile(io.BytesIO(results.content)).namelist())
    assert {f"{stem}.png" for stem in runs} <= names and "summary.json" in names  # none lost


def test_interactive_requests_are_served_while_a_job_runs(start_gateway, translation, tmp_path: Path) -> None:
    """One slot per replica: interactive txt2img requests still get through while a 30-article job holds the
    replica, between its calls, long before the job is done (batch calls queue behind interactive ones)."""
    fields, _ = translation
    gateway = start_gateway(jobs_dir=tmp_path / "jobs", max_in_flight_per_replica=1)
    job = _post(gateway, ARTICLES_XLSX.read_bytes(), {**FAST, **fields, "num_inference_steps": "10"},
                "articles.xlsx").json()
    status_url = f"{gateway.url}/v1/jobs/{job['id']}"
    wait_until(lambda: httpx.get(status_url, timeout=10).json()["counts"]["done"] >= 1, 120, 0.05)
    latencies = []
    for seed in range(3):
        started = time.monotonic()
        response = httpx.post(f"{gateway.url}/v1/txt2img", json={"prompt": "a red dress", "seed": seed,
                                                                  "num_inference_steps": 2, "width": 64,
                                                                  "height": 64}, timeout=60)
        latencies.append(time.monotonic() - started)
        assert response.status_code == 200, response.text
    status = httpx.get(status_url, timeout=10).json()
    assert status["state"] == "running" and status["counts"]["pending"] > 0, (status, latencies)
    assert max(latencies) < 10, latencies  # one article's call at most ahead of each, not the whole job
    httpx.delete(status_url, timeout=10)
