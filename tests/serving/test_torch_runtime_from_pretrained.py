"""End to end from a `save_pretrained` directory, served with the torch runtime, against diffusers."""

from __future__ import annotations

import logging

import pytest

from clients.triton_client import TritonTxt2ImgClient
from export.cli import main as export_main
from export.sources import load_source
from serving.server import ServerPorts, TritonServer
from tests.serving.reference import diffusers_txt2img, max_pixel_difference

log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def pretrained_dir(tiny_source, tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-diffusers")
    tiny_source.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def pretrained_source(pretrained_dir):
    """The reference: the directory loaded the way diffusers users load it (its own scheduler config)."""
    return load_source(model=str(pretrained_dir))


@pytest.fixture(scope="module")
def torch_server(pretrained_dir, tmp_path_factory):
    repository = tmp_path_factory.mktemp("repo-torch")
    export_main(["--model", str(pretrained_dir), "--runtime", "torch", "--output", str(repository)])
    assert (repository / "unet" / "1" / "weights" / "config.json").exists()
    with TritonServer(repository, ServerPorts.free(), log_file=repository.parent / "torch-server.log") as server:
        yield server


CASES = [("ddim", 128, 128, None), ("euler_ancestral", 64, 96, "dull colours")]


@pytest.mark.parametrize(("scheduler", "height", "width", "negative"), CASES)
def test_torch_runtime_from_pretrained_dir_matches_diffusers(torch_server, pretrained_source, scheduler, height, width, negative):
    client = TritonTxt2ImgClient(torch_server.grpc_url)
    options = dict(seed=77, scheduler=scheduler, num_inference_steps=10, guidance_scale=7.5, height=height,
                   width=width, negative_prompt=negative)
    served = client.generate("a marble coffee table", **options)
    client.close()
    difference = max_pixel_difference(served.images, diffusers_txt2img(pretrained_source, "a marble coffee table", **options))
    log.info("torch runtime parity %s %dx%d: max |served - diffusers| = %d", scheduler, width, height, difference)
    assert difference <= 1


def test_torch_and_onnxruntime_runtimes_agree(torch_server, triton_server):
    # DDIM: the saved pipeline's scheduler config equals the preset's for DDIM (other schedulers inherit
    # DDIM's "leading" timestep spacing from the saved config, a real difference between the checkpoints).
    options = dict(seed=3, scheduler="ddim", num_inference_steps=12, negative_prompt="grainy")
    images = []
    for server in (torch_server, triton_server):
        client = TritonTxt2ImgClient(server.grpc_url)
        images.append(client.generate("a rattan pendant lamp", **options).images)
        client.close()
    difference = max_pixel_difference(*images)
    log.info("torch vs onnxruntime runtime: max pixel difference %d", difference)
    assert difference <= 1
