"""The one Triton Python-backend model behind every generation orchestrator (txt2img, img2img, inpaint, the
photo workflows, and their `_stream` twins): contract inputs -> the contract's runner -> respond.

`python -m export` writes each orchestrator's config.pbtxt from `serving.contracts` and a two-line
model.py importing this class; the config's `contract` parameter names the contract, whose `runner`
is the class doing the work. A decoupled config (the `_stream` twins) runs each request on a worker
thread and sends one response per stage and denoising step, then the result; a plain one answers once.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from serving.bls import bls_call
from serving.contracts import GENERATION_CONTRACTS
from serving.decoupled import DecoupledRunner, ResponseStream
from serving.stage_types import StepProgress
from serving.stub_exit import prepare_stub_exit
from serving.translation.contracts import TRANSLATION_CONTRACTS
from serving.triton_errors import to_triton_error
from serving.triton_inputs import read_inputs


def progress_outputs(progress: StepProgress) -> dict[str, np.ndarray]:
    return {
        "step": np.array([progress.step], dtype=np.int32),
        "total": np.array([progress.total], dtype=np.int32),
        "elapsed_s": np.array([progress.elapsed_s], dtype=np.float32),
        "stage": np.array([progress.stage.encode()], dtype=np.object_),
    }


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        parameters = {key: value["string_value"] for key, value in config["parameters"].items()}
        self.name = config["name"]
        self.contract = {**GENERATION_CONTRACTS, **TRANSLATION_CONTRACTS}[parameters["contract"]]
        self.output_names = [spec.name for spec in self.contract.outputs]
        # `assets` is relative to the repository root (the parent of this model's directory).
        assets = Path(args["model_repository"]).resolve().parent / parameters["assets"]
        module, cls = self.contract.runner.split(":")
        self.runner = getattr(importlib.import_module(module), cls)(assets, bls_call, self.contract)
        self.decoupled = None
        if pb_utils.using_decoupled_model_transaction_policy(config):
            self.decoupled = DecoupledRunner(self.name, self.stream_one,
                                             max_workers=int(parameters["max_concurrent_requests"]))

    def execute(self, requests: list) -> list | None:
        if self.decoupled is not None:
            self.decoupled.submit_all(requests)
            return None
        return [self.answer_one(request) for request in requests]

    def answer_one(self, request):
        try:
            outputs = self.runner(read_inputs(request, self.contract.input_names), is_cancelled=request.is_cancelled)
        except Exception as error:  # noqa: BLE001 - reported to the client; the instance keeps serving
            return pb_utils.InferenceResponse(error=to_triton_error(self.name, error))
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor(name, np.ascontiguousarray(outputs[name])) for name in self.output_names if name in outputs
        ])

    def stream_one(self, request, stream: ResponseStream) -> None:
        last: list[StepProgress] = []

        def on_step(progress: StepProgress) -> None:
            last[:] = [progress]
            stream.send(progress_outputs(progress))

        outputs = self.runner(read_inputs(request, self.contract.input_names), on_step=on_step,
                              is_cancelled=stream.is_cancelled)
        final = progress_outputs(last[0]) if last else {}
        stream.finish({**final, **{name: np.ascontiguousarray(value) for name, value in outputs.items()}})

    def finalize(self) -> None:
        if self.decoupled is not None:
            self.decoupled.shutdown()
        prepare_stub_exit()
