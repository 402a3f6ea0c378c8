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
from serving.stub_exit import prepare_stub_exit


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        parameters = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        self.name = config["name"]
        self.input_names = [spec["name"] for spec in config["input"]]
        self.output_names = [spec["name"] for spec in config["output"]]
        version_dir = Path(args["model_repository"]) / args["model_version"]
        # Exported for CUDA (`python -m export --device cuda`): a GPU instance whose tensors stay in device memory.
        self.on_gpu = parameters.get("device") == "cuda"
        self.runner = create_runner(parameters["runtime"], version_dir, parameters["component"],
                                    device=parameters.get("device", "cpu"), precision=parameters.get("precision"),
                                    cuda_graphs=self.on_gpu and parameters.get("cuda_graphs", "yes") == "yes")
        # The torch runtime takes and returns torch tensors through DLPack on any device (on CPU too, so the
        # path the GPU serves is the one the CPU tests run); onnxruntime works on numpy.
        self.with_tensors = parameters["runtime"] == "torch"
        pb_utils.Logger.log_info(f"{self.name}: serving with {parameters['runtime']} from {version_dir}"
                                 f"{' on cuda' if self.on_gpu else ''}")

    def execute(self, requests: list) -> list:
        if self.with_tensors:
            return self.execute_tensors(requests)
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
            return self.failed(requests, error)
        return self.split(batches, outputs, lambda name, value: pb_utils.Tensor(name, np.ascontiguousarray(value)))

    def execute_tensors(self, requests: list) -> list:
        """The same batching with torch tensors (DLPack): on the GPU, no host copy between orchestrator and network."""
        import torch
        from torch.utils.dlpack import from_dlpack, to_dlpack

        batches = [
            {name: from_dlpack(pb_utils.get_input_tensor_by_name(request, name).to_dlpack()) for name in self.input_names}
            for request in requests
        ]
        try:
            merged = batches[0] if len(batches) == 1 else {
                name: torch.cat([b[name].to(self.runner.device) for b in batches]) for name in self.input_names}
            outputs = self.runner.run_tensors(merged)
            if self.on_gpu:
                torch.cuda.current_stream().synchronize()  # Triton reads the outputs outside torch's stream
        except Exception as error:  # noqa: BLE001
            return self.failed(requests, error)
        return self.split(batches, outputs, lambda name, value: pb_utils.Tensor.from_dlpack(name, to_dlpack(value.contiguous())))

    def failed(self, requests: list, error: Exception) -> list:
        message = f"{self.name}: {type(error).__name__}: {error}"
        pb_utils.Logger.log_error(message)
        return [pb_utils.InferenceResponse(error=pb_utils.TritonError(message)) for _ in requests]

    def split(self, batches: list[dict], outputs: dict, to_tensor) -> list:
        responses, start = [], 0
        for batch in batches:
            size = len(next(iter(batch.values())))
            tensors = [to_tensor(name, outputs[name][start : start + size]) for name in self.output_names]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += size
        return responses

    def finalize(self) -> None:
        prepare_stub_exit()
