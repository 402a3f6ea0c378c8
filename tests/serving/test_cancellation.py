"""A cancelled txt2img request stops at the next denoising step and the server keeps serving."""

from __future__ import annotations

import re
import time

import numpy as np
import tritonclient.grpc as grpcclient

from clients.triton_client import TritonTxt2ImgClient


def test_cancelled_request_stops_early(triton_server):
    client = grpcclient.InferenceServerClient(triton_server.grpc_url)
    inputs = []
    for name, dtype, value in [("prompt", "BYTES", np.array([b"a linen sofa"], dtype=np.object_)),
                               ("num_inference_steps", "INT32", np.array([150], np.int32)),
                               ("seed", "INT64", np.array([424242], np.int64))]:
        tensor = grpcclient.InferInput(name, [1], dtype)
        tensor.set_data_from_numpy(value)
        inputs.append(tensor)
    outcome = {}
    call = client.async_infer("txt2img", inputs, callback=lambda result, error: outcome.update(error=error))
    time.sleep(0.5)
    call.cancel()
    deadline = time.monotonic() + 30
    pattern = re.compile(r"request cancelled after (\d+) of 150 denoising steps")
    match = None
    while time.monotonic() < deadline and match is None:
        match = pattern.search(triton_server.log_file.read_text(errors="replace"))
        time.sleep(0.2)
    client.close()
    assert match is not None, triton_server.tail_log()
    assert 0 < int(match.group(1)) < 150
    assert outcome.get("error") is not None  # the client saw the cancellation, not a result

    healthy = TritonTxt2ImgClient(triton_server.grpc_url)
    assert healthy.generate("a linen sofa", num_inference_steps=2).images.shape == (1, 128, 128, 3)
    healthy.close()
