"""deploy/k8s/prometheus-adapter/values.yaml: the series its rules read exist, with the labels they use,
on a real tritonserver's /metrics (Triton 2.51, as in the Triton image) and in the gateway's registry."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
import yaml

from gateway.metrics import Metrics
from serving.server import ServerPorts, TritonServer

VALUES = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "prometheus-adapter" / "values.yaml"


@pytest.fixture(scope="module")
def triton_metrics(tmp_path_factory: pytest.TempPathFactory) -> str:
    """/metrics of a tritonserver on a one-model repository after one request (the counters then exist)."""
    from export.perception.repository import export_perception
    import numpy as np
    import tritonclient.grpc as grpcclient

    repository = tmp_path_factory.mktemp("repo-metrics")
    export_perception(["foreground_mask"], {"foreground": "tiny"}, repository, "onnxruntime", instance_count=1)
    with TritonServer(repository, ServerPorts.free(), log_file=repository.parent / "triton.log") as server:
        client = grpcclient.InferenceServerClient(server.grpc_url)
        image = grpcclient.InferInput("image", [32, 32, 3], "UINT8")
        image.set_data_from_numpy(np.zeros((32, 32, 3), np.uint8))
        client.infer("foreground_mask", [image])
        client.close()
        with urllib.request.urlopen(f"http://{server.host}:{server.ports.metrics}/metrics", timeout=10) as response:
            return response.read().decode()


def _rules() -> list[dict]:
    return yaml.safe_load(VALUES.read_text())["rules"]["custom"]


def _series(rule: dict) -> set[str]:
    text = rule["seriesQuery"] + " " + rule["metricsQuery"].replace("<<.Series>>", rule["name"]["matches"].strip("^$"))
    return set(re.findall(r"\b(nv_[a-z_]+|gateway_[a-z_]+)\b", text))


@pytest.mark.integration  # exports a model and starts a tritonserver
def test_triton_series_exist_with_a_model_label(triton_metrics: str) -> None:
    wanted = {name for rule in _rules() for name in _series(rule) if name.startswith("nv_")}
    assert wanted == {"nv_inference_queue_duration_us", "nv_inference_request_success"}
    for name in wanted:
        samples = [line for line in triton_metrics.splitlines() if line.startswith(name + "{")]
        assert any('model="foreground_mask"' in line for line in samples), name


def test_gateway_series_exist() -> None:
    wanted = {name for rule in _rules() for name in _series(rule) if name.startswith("gateway_")}
    exported = {family.name for family in Metrics().registry.collect()}
    assert wanted and wanted <= exported


def test_every_rule_names_the_metric_it_serves() -> None:
    for rule in _rules():
        assert re.fullmatch(r"[a-z_]+", rule["name"]["as"])
        assert "<<.GroupBy>>" in rule["metricsQuery"] and "<<.LabelMatchers>>" in rule["metricsQuery"]
