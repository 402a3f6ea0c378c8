"""The served image equals diffusers' StableDiffusionPipeline on the same tiny weights (max |diff| <= 1)."""

from __future__ import annotations

import logging

import pytest

from clients.triton_client import TritonTxt2ImgClient
from serving.schedulers import SCHEDULERS
from tests.serving.reference import PARITY_CASES, REFERENCE_SCHEDULERS, diffusers_txt2img, max_pixel_difference

log = logging.getLogger(__name__)

PROMPT = "a velvet armchair in a sunlit living room"
CASES = PARITY_CASES  # the torch runtime's parity test runs the same matrix


def test_every_contract_scheduler_has_a_reference_and_a_parity_case():
    assert set(REFERENCE_SCHEDULERS) == set(SCHEDULERS)
    assert {case[0] for case in CASES} == set(SCHEDULERS)


@pytest.fixture(scope="module")
def client(triton_server):
    client = TritonTxt2ImgClient(triton_server.grpc_url)
    yield client
    client.close()


@pytest.mark.parametrize(("scheduler", "height", "width", "negative", "guidance", "num_images"), CASES)
def test_served_image_matches_diffusers(client, tiny_source, scheduler, height, width, negative, guidance, num_images):
    options = dict(seed=1234, scheduler=scheduler, num_inference_steps=10, guidance_scale=guidance,
                   height=height, width=width, negative_prompt=negative, num_images=num_images)
    served = client.generate(PROMPT, **options)
    expected = diffusers_txt2img(tiny_source, PROMPT, **options)
    difference = max_pixel_difference(served.images, expected)
    log.info("parity %s %dx%d n=%d: max |served - diffusers| = %d", scheduler, width, height, num_images, difference)
    assert served.images.shape == (num_images, height, width, 3)
    assert served.seed == 1234
    assert difference <= 1
    assert served.images.std() > 1  # a real image, not a constant


def test_same_request_twice_gives_identical_bytes(client):
    first = client.generate(PROMPT, seed=99, num_inference_steps=8, scheduler="euler_ancestral")
    second = client.generate(PROMPT, seed=99, num_inference_steps=8, scheduler="euler_ancestral")
    assert first.images.tobytes() == second.images.tobytes()
    other = client.generate(PROMPT, seed=100, num_inference_steps=8, scheduler="euler_ancestral")
    assert other.images.tobytes() != first.images.tobytes()


def test_missing_seed_is_drawn_and_returned(client, tiny_source):
    served = client.generate(PROMPT, num_inference_steps=4)
    assert 0 <= served.seed < 2**31
    replay = client.generate(PROMPT, num_inference_steps=4, seed=served.seed)
    assert replay.images.tobytes() == served.images.tobytes()


def test_http_protocol_serves_the_same_image(triton_server, client):
    http_client = TritonTxt2ImgClient(triton_server.http_url, protocol="http")
    try:
        over_http = http_client.generate(PROMPT, seed=5, num_inference_steps=6)
    finally:
        http_client.close()
    over_grpc = client.generate(PROMPT, seed=5, num_inference_steps=6)
    assert over_http.images.tobytes() == over_grpc.images.tobytes()
