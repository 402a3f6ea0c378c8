"""foreground_mask equals rembg.remove(image, only_mask=True) with a custom session on the same ONNX file
(max diff <= 1); an RGBA cut-out returns its own alpha without running the network."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import pytest

from clients.perception_client import PerceptionClient
from export.perception.foreground import REMBG_SESSIONS, ForegroundNetDescriptor, build_tiny_onnx
from benchmarks.references.perception import photo

log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def client(perception_server):
    client = PerceptionClient(perception_server.grpc_url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def rembg_session(tmp_path_factory):
    from rembg import new_session

    # The same seeded network the session repository serves, as the file a rembg user would point at.
    path = build_tiny_onnx(tmp_path_factory.mktemp("rembg") / "tiny_u2net.onnx")
    return new_session("u2net_custom", model_path=str(path))


@pytest.mark.parametrize(("height", "width"), [(320, 320), (200, 300), (77, 45)])
def test_mask_matches_rembg(client, rembg_session, height, width):
    from rembg import remove

    image = photo(height, width, seed=height + width)
    expected = np.asarray(remove(image, only_mask=True, session=rembg_session))
    served = client.infer("foreground_mask", image=image)["mask"]
    difference = int(np.abs(served.astype(int) - expected.astype(int)).max())
    log.info("foreground_mask %dx%d: max |served - rembg| = %d", width, height, difference)
    assert served.shape == (height, width) and served.dtype == np.uint8
    assert difference <= 1
    assert served.std() > 1  # a real mask, not a constant


def test_rgba_alpha_is_the_mask_and_opaque_rgba_runs_the_network(client):
    image = photo(60, 80, seed=5, channels=4)
    opaque = client.infer("foreground_mask", image=image)["mask"]
    np.testing.assert_array_equal(opaque, client.infer("foreground_mask", image=image[..., :3])["mask"])
    image[10:30, 20:50, 3] = 0  # a cut-out: transparent background
    np.testing.assert_array_equal(client.infer("foreground_mask", image=image)["mask"], image[..., 3])


@pytest.mark.integration  # exports ONNX or starts tritonserver itself
def test_a_file_traced_at_batch_one_is_never_batched(tmp_path):
    path = build_tiny_onnx(tmp_path / "fixed.onnx")
    model = onnx.load(str(path))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    assert ForegroundNetDescriptor.from_onnx(model, REMBG_SESSIONS["u2net_custom"]).max_batch_size == 1
    assert ForegroundNetDescriptor.from_onnx(onnx.load(str(path)), REMBG_SESSIONS["u2net_custom"]).max_batch_size == 8
