"""Each benchmark entry point, on the tiny preset with minimal iterations, against real processes.

Real tritonserver, real perf_analyzer, the real gateway; checks the result files are complete and
well formed. No timing thresholds: the CPU is shared and these are smoke runs.
"""

from __future__ import annotations

import pytest

from benchmarks.cli import main
from tests.benchmarks import checks

pytestmark = pytest.mark.slow

QUICK_LEVELS = (1, 2)


def test_e2e_against_a_running_server(triton_server, tmp_path):
    out = tmp_path / "results"
    main(["e2e", "--preset", "tiny", "--quick", "--device", "cpu", "--runtimes", "onnxruntime",
          "--triton-url", f"onnxruntime={triton_server.grpc_url}",
          "--output", str(out), "--log-dir", str(tmp_path / "logs"), "--work-dir", str(tmp_path / "work")])

    e2e = checks.load(out / "e2e-tiny-cpu.json")
    checks.check_e2e(e2e, runtimes=("onnxruntime",), gateway=True)
    checks.check_markdown(out / "e2e-tiny-cpu.md", "diffusers", "triton[onnxruntime]", "gateway[onnxruntime]",
                          "overhead per step", "mean batch")
    for kind in ("latency", "throughput", "stages"):
        checks.check_png(out / f"e2e-tiny-cpu-{kind}.png")
    # perf_analyzer through the --perf hook is checked once, on the report's run below.


def test_perf_against_a_running_server(triton_server, tiny_repository, tmp_path):
    main(["perf", "--url", triton_server.grpc_url, "--preset", "tiny", "--quick", "--device", "cpu",
          "--model-repository", str(tiny_repository), "--models", "txt2img,unet",
          "--component-window", "4", "--txt2img-window", "2", "--output", str(tmp_path)])

    perf = checks.load(tmp_path / "perf_analyzer-tiny-cpu.json")
    checks.check_perf(perf, ("txt2img", "unet"), QUICK_LEVELS)
    assert perf["inputs"]["unet"]["batch_size"] == 2  # the CFG pair
    assert perf["inputs"]["unet"]["shapes"]["sample"] == [4, 16, 16]  # 128 px / 8


@pytest.mark.integration  # exports ONNX or starts tritonserver itself
def test_report_exports_serves_and_summarises(tmp_path):
    out = tmp_path / "results"
    main(["report", "--presets", "tiny", "--quick", "--device", "cpu", "--runtimes", "onnxruntime",
          "--wait-quiet", "0", "--output", str(out), "--work-dir", str(tmp_path / "work"),
          "--log-dir", str(tmp_path / "logs")])

    e2e = checks.load(out / "e2e-tiny-cpu.json")
    checks.check_e2e(e2e, runtimes=("onnxruntime",), gateway=True)
    assert e2e["targets"][1]["setup_s"]["export_s"] > 0 and e2e["targets"][1]["setup_s"]["server_start_s"] > 0
    assert e2e["quiet_check"]["waited_s"] < 10  # --wait-quiet 0: one look at the machine, no waiting
    perf = checks.load(out / "perf_analyzer-tiny-cpu.json")
    checks.check_perf(perf, ("txt2img", "text_encoder", "unet", "vae_decoder"), QUICK_LEVELS)
    checks.check_markdown(out / "perf_analyzer-tiny-cpu.md", "txt2img", "unet")
    summary = checks.load(out / "summary-cpu.json")
    checks.check_machine(summary)
    assert len(summary["goals"]) == 4
    checks.check_markdown(out / "summary-cpu.md", "make bench", "overhead per denoising step",
                          "GPU numbers are still to be measured")
    assert not (tmp_path / "work" / "repo-tiny-onnxruntime").exists()  # exports are removed after use
