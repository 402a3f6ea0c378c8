"""Concurrent txt2img requests share UNet executions (step-level batching across requests)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from clients.triton_client import TritonTxt2ImgClient

log = logging.getLogger(__name__)


def _counts(client: TritonTxt2ImgClient) -> tuple[int, int, int]:
    stats = client.model_statistics("unet")
    return int(stats["inference_stats"]["success"]["count"]), int(stats.get("execution_count", 0)), int(stats.get("inference_count", 0))


def test_four_concurrent_requests_share_unet_executions(triton_server):
    steps = 30
    probe = TritonTxt2ImgClient(triton_server.grpc_url)
    requests_before, executions_before, samples_before = _counts(probe)

    def generate(seed: int):
        client = TritonTxt2ImgClient(triton_server.grpc_url)
        try:
            return client.generate("an oak dining table", seed=seed, num_inference_steps=steps)
        finally:
            client.close()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(generate, range(4)))
    requests_after, executions_after, samples_after = _counts(probe)
    probe.close()

    assert [r.seed for r in results] == [0, 1, 2, 3]
    assert all(r.images.shape == (1, 128, 128, 3) for r in results)
    requests, executions, samples = (requests_after - requests_before, executions_after - executions_before,
                                     samples_after - samples_before)
    log.info("UNet: %d executions served %d requests (%d samples, mean batch %.2f)",
             executions, requests, samples, samples / executions)
    assert requests == 4 * steps
    assert samples == 2 * requests  # each request is the CFG pair
    assert executions < requests
