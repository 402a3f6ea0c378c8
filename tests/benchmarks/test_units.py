"""Fast checks of the harness's arithmetic: statistics deltas, CSV parsing, ratios, shapes, workloads."""

from __future__ import annotations

import json
import shutil

import pytest

from benchmarks import stats
from benchmarks.e2e import compute_ratios
from benchmarks.perf_analyzer import component_model, parse_csv, txt2img_input_data
from benchmarks.report import README_END, README_START, check_goals, update_readme
from benchmarks.repository import WARMUP_FILE, warm_at_benchmark_size, warmup_size
from benchmarks.workloads import workload_for
from export.triton_config import read_config


def triton_stats(requests, executions, inferences, success, queue, compute, batch=()):
    return {
        "execution_count": str(executions),
        "inference_count": str(inferences),
        "inference_stats": {
            "success": {"count": str(requests), "ns": str(success)},
            "queue": {"count": str(requests), "ns": str(queue)},
            "compute_input": {"count": str(requests), "ns": "0"},
            "compute_infer": {"count": str(requests), "ns": str(compute)},
            "compute_output": {"count": str(requests), "ns": "0"},
        },
        "batch_stats": [{"batch_size": str(size), "compute_infer": {"count": str(count), "ns": str(ns)}}
                        for size, count, ns in batch],
    }


def test_stage_breakdown_subtracts_components_from_served_time():
    before = {name: stats.ModelStats.from_triton(triton_stats(5, 5, 5, 10**9, 0, 10**9))
              for name in ("txt2img", "text_encoder", "unet", "vae_decoder")}
    after = {
        "txt2img": stats.ModelStats.from_triton(triton_stats(7, 7, 7, 10**9 + 2 * 100_000_000, 0, 0)),
        "text_encoder": stats.ModelStats.from_triton(triton_stats(7, 7, 14, 10**9, 0, 10**9 + 2 * 2_000_000)),
        "unet": stats.ModelStats.from_triton(triton_stats(5 + 20, 5 + 20, 5 + 40, 10**9, 2 * 10 * 100_000,
                                                          10**9 + 20 * 4_000_000)),
        "vae_decoder": stats.ModelStats.from_triton(triton_stats(7, 7, 7, 10**9, 0, 10**9 + 2 * 30_000_000)),
    }
    breakdown = stats.stage_breakdown(stats.delta(after, before), steps=10)
    assert breakdown.requests == 2
    assert breakdown.served_ms == pytest.approx(100.0)
    assert breakdown.text_encoder_ms == pytest.approx(2.0)
    assert breakdown.unet_step_ms == pytest.approx(4.0)
    assert breakdown.unet_step_queue_ms == pytest.approx(0.1)
    assert breakdown.vae_decode_ms == pytest.approx(30.0)
    assert breakdown.overhead_ms == pytest.approx(100.0 - 2.0 - 40.0 - 30.0)
    assert breakdown.overhead_per_step_ms == pytest.approx(2.8)


def test_stage_breakdown_of_img2img_counts_its_orchestrator_and_the_vae_encoder():
    def at(requests, compute_ms, success_ms=0):
        return stats.ModelStats.from_triton(triton_stats(requests, requests, requests, int(success_ms * 1e6), 0,
                                                         int(compute_ms * 1e6)))

    models = stats.PipelineModels("img2img", "unet", ("vae_encoder",))
    phase = {"img2img": at(2, 0, success_ms=200), "text_encoder": at(2, 4), "unet": at(16, 160),
             "vae_decoder": at(2, 60), "vae_encoder": at(2, 40)}
    breakdown = stats.stage_breakdown(phase, steps=8, models=models)
    assert breakdown.served_ms == pytest.approx(100.0)
    assert breakdown.other_components_ms == pytest.approx(20.0)
    assert breakdown.components_ms == pytest.approx(2.0 + 80.0 + 30.0 + 20.0)
    assert stats.unet_batching(phase, 1, models).txt2img_requests == 2
    with pytest.raises(ValueError, match="no img2img request"):
        stats.stage_breakdown({**phase, "img2img": at(0, 0)}, steps=8, models=models)


def test_overhead_fit_separates_per_step_from_fixed_costs():
    def breakdown(steps, overhead):
        return stats.StageBreakdown(1, steps, 0, 0, 0, 0, 0, 0, 0, overhead, overhead / steps)

    fit = stats.fit_overhead(breakdown(5, 5 * 0.5 + 12.0), breakdown(20, 20 * 0.5 + 12.0))
    assert fit.per_step_ms == pytest.approx(0.5) and fit.fixed_ms == pytest.approx(12.0)
    with pytest.raises(ValueError):
        stats.fit_overhead(breakdown(5, 1.0), breakdown(5, 1.0))


def test_unet_batching_counts_executions_not_requests():
    phase = {"txt2img": stats.ModelStats.from_triton(triton_stats(4, 4, 4, 1, 0, 1)),
             "unet": stats.ModelStats.from_triton(triton_stats(40, 16, 80, 1, 40_000_000, 160_000_000,
                                                               batch=[(4, 8, 80_000_000), (6, 8, 120_000_000)]))}
    batching = stats.unet_batching(phase, concurrency=4)
    assert batching.mean_batch == pytest.approx(5.0)
    assert batching.requests_per_execution == pytest.approx(2.5)
    assert batching.unet_queue_ms_per_request == pytest.approx(1.0)
    # From batch_stats: 200 ms over 16 executions, not the per-request sum.
    assert batching.unet_compute_ms_per_execution == pytest.approx(12.5)


CSV = """Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency,Avg latency,request/response,response wait
2,99.5,10,586,168,37,9760,652,3,10176,14125,16808,28576,11221,13,11177
"""


def test_parse_perf_analyzer_csv(tmp_path):
    path = tmp_path / "unet.csv"
    path.write_text(CSV)
    (row,) = parse_csv(path, "unet", batch_size=2)
    assert row.concurrency == 2
    assert row.inferences_per_s == pytest.approx(99.5)
    assert row.requests_per_s == pytest.approx(49.75)
    assert row.p50_ms == pytest.approx(10.176) and row.p99_ms == pytest.approx(28.576)
    assert row.server_compute_ms == pytest.approx((37 + 9760 + 652) / 1000)
    assert row.avg_ms == pytest.approx(11.221)


def test_component_shapes_scale_dynamic_axes_only():
    config = {"config": {
        "name": "unet",
        "input": [
            {"name": "sample", "data_type": "TYPE_FP32", "dims": ["4", "-1", "-1"]},
            {"name": "timestep", "data_type": "TYPE_FP32", "dims": ["1"]},
            {"name": "encoder_hidden_states", "data_type": "TYPE_FP32", "dims": ["77", "768"]},
        ],
        "model_warmup": [{"inputs": {"sample": {"dims": ["4", "64", "64"]}, "timestep": {"dims": ["1"]},
                                     "encoder_hidden_states": {"dims": ["77", "768"]}}}],
    }}
    model = component_model(config, batch_size=2, scale=(0.5, 0.25))
    assert model.shapes == {"sample": [4, 32, 16], "timestep": [1], "encoder_hidden_states": [77, 768]}
    assert model.input_data == "random"
    assert "-b" in model.arguments() and "sample:4,32,16" in model.arguments()
    config["config"]["input"][1]["data_type"] = "TYPE_INT64"
    assert component_model(config, 2).input_data == "zero"  # token ids must stay in the vocabulary


def test_txt2img_input_data_is_perf_analyzer_json(tmp_path):
    request = workload_for("tiny", "cpu").request()
    data = json.loads(txt2img_input_data(request, tmp_path / "in.json").read_text())
    (step,) = data["data"]
    assert step["prompt"] == {"content": [request["prompt"]], "shape": [1]}
    assert step["num_inference_steps"]["content"] == [request["num_inference_steps"]]


def _target(name, kind, runtime, p50, rates):
    return {"name": name, "kind": kind, "runtime": runtime,
            "latency_ms": {"p50": p50, "p90": 2 * p50, "p99": 3 * p50},
            "throughput": [{"concurrency": c, "images_per_s": r} for c, r in rates.items()]}


def test_ratios_pair_triton_with_diffusers_and_gateway_with_triton():
    targets = [
        _target("diffusers", "diffusers", "torch", 100.0, {1: 10.0, 2: 12.0}),
        _target("triton[onnxruntime]", "triton", "onnxruntime", 50.0, {1: 20.0, 2: 36.0}),
        _target("gateway[onnxruntime]", "gateway", "onnxruntime", 52.0, {1: 19.0, 2: 36.0}),
    ]
    triton, gateway = compute_ratios(targets)
    assert (triton["numerator"], triton["denominator"]) == ("triton[onnxruntime]", "diffusers")
    assert triton["latency_p50"] == pytest.approx(0.5)
    assert triton["throughput"] == {"1": pytest.approx(2.0), "2": pytest.approx(3.0)}
    assert gateway["denominator"] == "triton[onnxruntime]"
    assert gateway["added_ms_p50"] == pytest.approx(2.0)


def test_goals_report_not_measured_rather_than_failing():
    goals = check_goals([])
    assert len(goals) == 4 and all(goal.met is None for goal in goals)


def test_quick_workload_and_overrides():
    quick = workload_for("tiny", "cpu", quick=True)
    assert quick.concurrency == (1, 2) and quick.steps == 3
    custom = workload_for("sd15", "cpu", concurrency=(4, 2), steps=5)
    assert custom.concurrency == (1, 2, 4) and custom.steps == 5
    assert workload_for("sd15", "cuda").precision == "fp16"
    assert not workload_for("sd15", "cpu").sweeps("triton[torch]")
    with pytest.raises(ValueError):
        workload_for("tiny", "tpu")


def test_update_readme_appends_then_replaces(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Project\n\ntext\n")
    update_readme(readme, "first")
    update_readme(readme, "second")
    text = readme.read_text()
    assert text.count("## Performance") == 1 and text.count(README_START) == 1 and text.count(README_END) == 1
    assert "second" in text and "first" not in text and text.startswith("# Project\n\ntext\n")


def test_warmup_moves_to_the_benchmarked_size(tiny_repository, tmp_path):
    repository = tmp_path / "repo"
    shutil.copytree(tiny_repository, repository, ignore=shutil.ignore_patterns("*.onnx", "*.onnx.data", "weights"))
    workload = workload_for("tiny", "cpu", height=64, width=96, concurrency=(1, 2, 4))
    warm_at_benchmark_size(repository, workload)
    assert (repository / WARMUP_FILE).exists() and warmup_size(repository).width == 96
    unet = read_config(repository / "unet" / "config.pbtxt").model_warmup
    assert [w.batch_size for w in unet] == [2, 4, 6, 8]  # every batch 4 concurrent CFG pairs can form
    assert all(list(w.inputs["sample"].dims) == [4, 8, 12] for w in unet)
    assert list(unet[0].inputs["encoder_hidden_states"].dims) == [77, 32]
    vae = read_config(repository / "vae_decoder" / "config.pbtxt").model_warmup
    assert [w.batch_size for w in vae] == [1, 2, 3, 4]
    assert list(vae[0].inputs["latent_sample"].dims) == [4, 8, 12]


def test_timed_skips_the_warmup_calls_and_times_the_rest():
    calls = []
    times = stats.timed(lambda: calls.append(1), 3, warmup=2)
    assert len(calls) == 5 and len(times) == 3 and all(t >= 0 for t in times)
