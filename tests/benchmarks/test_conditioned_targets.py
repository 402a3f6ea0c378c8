"""The benchmark's img2img and ControlNet workloads send the same work to diffusers and to Triton: equal images."""

from __future__ import annotations

import pytest

from benchmarks.targets import DiffusersTarget, TritonTarget
from benchmarks.workloads import CONTROLNET_KIND, workload_for
from export.sources import preset_controlnet, tiny_source
from tests.serving.reference import max_pixel_difference


@pytest.mark.parametrize("pipeline", ["img2img", "controlnet"])
def test_diffusers_and_triton_targets_get_the_same_request(triton_server, pipeline):
    workload = workload_for("tiny", "cpu", quick=True, pipeline=pipeline, steps=6, height=64, width=96)
    assert not workload.gateway and workload.overhead_probe_steps is None
    source = tiny_source()
    source.controlnets[CONTROLNET_KIND] = preset_controlnet("tiny", CONTROLNET_KIND)
    expected = DiffusersTarget(source).open_session()(workload.request())
    target = TritonTarget(triton_server.grpc_url, "onnxruntime", model_name=workload.orchestrator)
    try:
        served = target.open_session()(workload.request())
    finally:
        target.close()
    assert served.shape == (1, 64, 96, 3)
    assert max_pixel_difference(served, expected) <= 1
