"""perf_analyzer (the real binary) drives txt2img on the documented contract with JSON input data."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "txt2img_tiny.json"


def test_perf_analyzer_drives_txt2img(triton_server, tmp_path):
    binary = shutil.which("perf_analyzer", path=str(Path(sys.executable).parent))
    assert binary, "perf_analyzer missing: run scripts/setup.sh"
    report = tmp_path / "perf.csv"
    result = subprocess.run(
        [binary, "-m", "txt2img", "-u", triton_server.grpc_url, "-i", "grpc", "--input-data", str(DATA),
         "--concurrency-range", "1", "--measurement-mode", "count_windows", "--measurement-request-count", "4",
         # Only checks that it drives the contract: other processes share the CPU, so accept any stability.
         "--stability-percentage", "1000", "--max-trials", "10",
         "-f", str(report)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Throughput:" in result.stdout
    header, row = report.read_text().splitlines()[:2]
    assert header.startswith("Concurrency,Inferences/Second")
    assert float(row.split(",")[1]) > 0
