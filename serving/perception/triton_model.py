"""The one Triton Python-backend model behind every perception orchestrator.

`python -m export` writes each orchestrator's config.pbtxt from `serving.perception.contracts` (the
`contract` parameter names it) and a one-line model.py importing this class. Per request: parse the
inputs against the contract -> run the pipeline's stages (BLS to the networks) -> respond; a bad
input is INVALID_ARG naming the input, and the instance keeps serving.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from serving.bls import bls_call
from serving.perception.contracts import CONTRACTS
from serving.stub_exit import prepare_stub_exit
from serving.triton_errors import to_triton_error
from serving.triton_inputs import read_inputs


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        parameters = {key: value["string_value"] for key, value in config["parameters"].items()}
        self.name = config["name"]
        self.contract = CONTRACTS[parameters["contract"]]
        module, cls = self.contract.pipeline.split(":")
        assets = Path(args["model_repository"]) / args["model_version"] / parameters["assets"]
        self.pipeline = getattr(importlib.import_module(module), cls)(assets, bls_call)
        self.output_names = [spec.name for spec in self.contract.outputs]

    def execute(self, requests: list) -> list:
        return [self.answer_one(request) for request in requests]

    def answer_one(self, request):
        try:
            outputs = self.pipeline(read_inputs(request, self.contract.input_names))
        except Exception as error:  # noqa: BLE001 - reported to the client; the instance keeps serving
            return pb_utils.InferenceResponse(error=to_triton_error(self.name, error))
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor(name, np.ascontiguousarray(outputs[name])) for name in self.output_names
        ])

    def finalize(self) -> None:
        prepare_stub_exit()
