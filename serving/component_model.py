"""Triton Python-backend model serving one exported component through `serving.runners`.

Triton's dynamic batcher hands the Python backend a list of requests; they are concatenated along
the batch axis, run once, and split back, so steps of different pipelines share one execution.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from serving.runners import create_runner


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        parameters = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        self.name = config["name"]
        self.input_names = [spec["name"] for spec in config["input"]]
        self.output_names = [spec["name"] for spec in config["output"]]
        version_dir = Path(args["model_repository"]) / args["model_version"]
        self.runner = create_runner(parameters["runtime"], version_dir, parameters["component"])
        pb_utils.Logger.log_info(f"{self.name}: serving with {parameters['runtime']} from {version_dir}")

    def execute(self, requests: list) -> list:
        batches = [
            {name: pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in self.input_names}
            for request in requests
        ]
        if len(batches) == 1:
            merged = batches[0]
        else:
            merged = {name: np.concatenate([b[name] for b in batches]) for name in self.input_names}
        try:
            outputs = self.runner.run(merged)
        except Exception as error:  # a runtime failure fails these requests, not the server
            message = f"{self.name}: {type(error).__name__}: {error}"
            pb_utils.Logger.log_error(message)
            return [pb_utils.InferenceResponse(error=pb_utils.TritonError(message)) for _ in requests]
        responses, start = [], 0
        for batch in batches:
            size = len(next(iter(batch.values())))
            tensors = [pb_utils.Tensor(name, np.ascontiguousarray(outputs[name][start : start + size]))
                       for name in self.output_names]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += size
        return responses
