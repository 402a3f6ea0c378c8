"""Different pipelines share component executions: txt2img and img2img meet in `unet`, ControlNet requests of
txt2img and img2img meet in `controlnet_depth` and `unet_controlnet` (Triton's statistics show it)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from clients.triton_client import TritonGenerationClient
from benchmarks.references.conditioned import photo
from tests.serving.model_statistics import settled_counts

log = logging.getLogger(__name__)

STEPS = 20
PHOTO = photo(128, 128)


def _run_concurrently(server, requests: list[tuple[str, dict]], models: list[str]) -> dict[str, tuple[int, int]]:
    probe = TritonGenerationClient(server.grpc_url)
    before = {model: settled_counts(probe, model) for model in models}

    def generate(request: tuple[str, dict]):
        orchestrator, options = request
        client = TritonGenerationClient(server.grpc_url, model_name=orchestrator)
        try:
            return client.generate("a teak armchair", num_inference_steps=STEPS, **options)
        finally:
            client.close()

    with ThreadPoolExecutor(len(requests)) as pool:
        results = list(pool.map(generate, requests))
    assert all(result.images.std() > 1 for result in results)
    after = {model: settled_counts(probe, model) for model in models}
    probe.close()
    counted = {model: after[model] - before[model] for model in models}
    deltas = {model: (count.requests, count.executions) for model, count in counted.items()}
    for model, (requests_, executions) in deltas.items():
        log.info("%s: %d requests in %d executions", model, requests_, executions)
    return deltas


def test_txt2img_and_img2img_share_unet_executions(triton_server):
    # img2img at strength 1.0 runs all STEPS steps, so the three pipelines overlap for the whole loop.
    requests = [("txt2img", dict(seed=1)), ("txt2img", dict(seed=2)),
                ("img2img", dict(seed=3, image=PHOTO, strength=1.0))]
    unet_requests, unet_executions = _run_concurrently(triton_server, requests, ["unet"])["unet"]
    assert unet_requests == 3 * STEPS
    assert unet_executions < unet_requests


def test_controlnet_requests_of_different_pipelines_share_executions(triton_server):
    control = dict(control_image=photo(128, 128, seed=4)[None], controlnet=["depth"])
    # Five at once (four txt2img instances, one img2img): three could settle into a rhythm that alternates between
    # controlnet_depth and unet_controlnet without ever meeting in one of them (seen: 60 requests in 60 executions).
    requests = [("txt2img", dict(seed=1, **control)), ("txt2img", dict(seed=2, controlnet_conditioning_scale=[0.5], **control)),
                ("txt2img", dict(seed=5, **control)), ("txt2img", dict(seed=6, controlnet_conditioning_scale=[0.8], **control)),
                ("img2img", dict(seed=3, image=PHOTO, strength=1.0, **control))]
    deltas = _run_concurrently(triton_server, requests, ["controlnet_depth", "unet_controlnet"])
    for model, (requests_, executions) in deltas.items():
        assert requests_ == len(requests) * STEPS, model
        assert executions < requests_, model
