"""Schemathesis over every operation of the gateway's live OpenAPI document, with the session's real
tritonserver behind it: no 5xx, and every status code, media type, header and body as documented.

Bounded: at most MAX_EXAMPLES generated cases per operation in the fuzzing phase and MAX_TIME_S for
the whole run (schemathesis shares it between its phases and stops there), with a fixed seed. Image
sizes, steps, images per request and SAM's automatic grid are bounded through the gateway's own settings,
which the document publishes as the schema's limits: schemathesis then generates only small generations
(a 1024 px image with 150 steps takes minutes on 2 cores, 64 px with 3 steps a fraction of a second), and
no hook has to rewrite its requests. tests/gateway/fuzz_hooks.py swaps some random uploads for real PNGs so the image
routes get past "not an image". Routes added later are fuzzed as soon as the document lists them.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

log = logging.getLogger(__name__)

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance")
# SAM's automatic grid too: the tiny model's noisy masks pass thresholds of 0 by thousands (seconds each request).
SMALL = {"max_image_size": 64, "size_multiple": 16, "max_steps": 3, "max_images": 2, "max_sam_points_per_crop": 4,
         "max_sam_crops_n_layers": 0}
MAX_EXAMPLES = 12
MAX_TIME_S = 40
SEED = 12
HOOKS = Path(__file__).with_name("fuzz_hooks.py")
JOB_OPERATIONS = {"POST /v1/jobs", "GET /v1/jobs", "GET /v1/jobs/{job_id}", "DELETE /v1/jobs/{job_id}",
                  "GET /v1/jobs/{job_id}/events", "GET /v1/jobs/{job_id}/results"}


@dataclass
class FuzzSummary:
    """What the run's event log (schemathesis --report ndjson) says was tested and what failed."""

    cases: Counter = field(default_factory=Counter)  # per operation
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop_reason: str = ""

    @classmethod
    def read(cls, path: Path) -> "FuzzSummary":
        summary = cls()
        for line in path.read_text().splitlines():
            (kind, event), = json.loads(line).items()
            if kind == "ScenarioFinished":
                label = event["recorder"]["label"]
                summary.cases[label] += len(event["recorder"].get("cases", {}))
                for case_id, checks in event["recorder"].get("checks", {}).items():
                    summary.failures += [f"{label} ({event['phase']}, case {case_id}): {check['name']}"
                                         for check in checks if check["status"] != "success"]
            elif kind == "NonFatalError":
                summary.errors.append(json.dumps(event)[:2000])
            elif kind == "FatalError":
                summary.errors.append(json.dumps(event)[:2000])
            elif kind == "EngineFinished":
                summary.stop_reason = event.get("stop_reason") or ""
        return summary


@pytest.fixture(scope="module")
def small_gateway(launch_gateway):
    with launch_gateway(**SMALL) as gateway:  # stopped when the module ends
        yield gateway


def schemathesis_command(url: str, report: Path) -> list[str]:
    cli = Path(sys.executable).with_name("schemathesis")
    return [str(cli), "run", f"{url}/openapi.json", "--checks", ",".join(CHECKS),
            "--phases", "examples,coverage,fuzzing", "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_TIME_S),
            "--seed", str(SEED), "--workers", "1", "--request-timeout", "60", "--generation-database", "none",
            "--no-color", "--report", "ndjson", "--report-ndjson-path", str(report)]


def test_every_operation_conforms_to_the_document(small_gateway, tmp_path: Path) -> None:
    document = httpx.get(f"{small_gateway.url}/openapi.json", timeout=10).json()
    operations = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    report = tmp_path / "events.ndjson"
    command = schemathesis_command(small_gateway.url, report)
    log.info("SCHEMATHESIS_HOOKS=%s %s", HOOKS, " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, timeout=MAX_TIME_S + 120, cwd=tmp_path,
                            env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)})
    output = result.stdout[-12000:] + result.stderr[-4000:]
    summary = FuzzSummary.read(report)
    log.info("schemathesis: %d operations, %d cases, %d failures, stopped by %s\n%s", len(summary.cases),
             sum(summary.cases.values()), len(summary.failures), summary.stop_reason or "completion", output)
    assert not summary.failures, "\n".join(summary.failures[:20]) + "\n" + output
    assert not summary.errors, "\n".join(summary.errors[:5])
    assert result.returncode == 0, output
    untested = sorted(operation for operation in operations if summary.cases[operation] == 0)
    assert not untested, f"never tested: {untested}\n{output}"
    assert JOB_OPERATIONS <= operations, f"catalog job routes missing from the document: {JOB_OPERATIONS - operations}"
