"""The one Triton Python-backend model behind every generation orchestrator (txt2img, img2img, inpaint and
their `_stream` twins): parse the request against its contract -> run the pipeline stages -> respond.

`python -m export` writes each orchestrator's config.pbtxt from `serving.contracts` and a two-line
model.py importing this class. A decoupled config (the `_stream` twins) runs each request on a worker
thread and sends one response per denoising step, then the image; a plain one answers once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from serving.bls import bls_call
from serving.contracts import GENERATION_CONTRACTS
from serving.decoupled import DecoupledRunner, ResponseStream
from serving.pipelines.diffusion import DiffusionPipeline, StepProgress
from serving.pipelines.generation_inputs import parse_generation_inputs
from serving.triton_errors import to_triton_error
from serving.triton_inputs import read_inputs


def progress_outputs(progress: StepProgress) -> dict[str, np.ndarray]:
    return {
        "step": np.array([progress.step], dtype=np.int32),
        "total": np.array([progress.total], dtype=np.int32),
        "elapsed_s": np.array([progress.elapsed_s], dtype=np.float32),
    }


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        parameters = {key: value["string_value"] for key, value in config["parameters"].items()}
        self.name = config["name"]
        self.contract = GENERATION_CONTRACTS[parameters["contract"]]
        # `assets` is relative to the repository root (the parent of this model's directory).
        assets = Path(args["model_repository"]).resolve().parent / parameters["assets"]
        self.pipeline = DiffusionPipeline(assets, bls_call)
        self.runner = None
        if pb_utils.using_decoupled_model_transaction_policy(config):
            self.runner = DecoupledRunner(self.name, self.stream_one,
                                          max_workers=int(parameters["max_concurrent_requests"]))

    def execute(self, requests: list) -> list | None:
        if self.runner is not None:
            self.runner.submit_all(requests)
            return None
        return [self.answer_one(request) for request in requests]

    def parse(self, request):
        inputs = read_inputs(request, self.contract.input_names)
        return parse_generation_inputs(inputs, self.contract, self.pipeline.catalog, self.pipeline.settings_of)

    def answer_one(self, request):
        try:
            params = self.parse(request)
            images = self.pipeline(params, is_cancelled=request.is_cancelled)
        except Exception as error:  # noqa: BLE001 - reported to the client; the instance keeps serving
            return pb_utils.InferenceResponse(error=to_triton_error(self.name, error))
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor("image", images),
            pb_utils.Tensor("seed", np.array([params.seed], dtype=np.int64)),
        ])

    def stream_one(self, request, stream: ResponseStream) -> None:
        params = self.parse(request)
        last: list[StepProgress] = []

        def on_step(progress: StepProgress) -> None:
            last[:] = [progress]
            stream.send(progress_outputs(progress))

        images = self.pipeline(params, on_step=on_step, is_cancelled=stream.is_cancelled)
        final = progress_outputs(last[0]) if last else {}
        stream.finish({**final, "image": images, "seed": np.array([params.seed], dtype=np.int64)})

    def finalize(self) -> None:
        if self.runner is not None:
            self.runner.shutdown()
