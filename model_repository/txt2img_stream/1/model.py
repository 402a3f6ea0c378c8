"""txt2img_stream orchestrator: the txt2img pipeline, decoupled, with one response per denoising step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from serving.bls import bls_call
from serving.decoupled import DecoupledRunner, ResponseStream
from serving.pipelines.txt2img import StepProgress, Txt2ImgPipeline
from serving.pipelines.txt2img_inputs import TXT2IMG_INPUTS, parse_txt2img_inputs
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
        parameters = config["parameters"]
        assets = Path(args["model_repository"]) / args["model_version"] / parameters["assets"]["string_value"]
        self.pipeline = Txt2ImgPipeline(assets.resolve(), bls_call)
        workers = int(parameters["max_concurrent_requests"]["string_value"])
        self.runner = DecoupledRunner("txt2img_stream", self.run_one, max_workers=workers)

    def execute(self, requests: list) -> None:
        self.runner.submit_all(requests)
        return None

    def run_one(self, request, stream: ResponseStream) -> None:
        params = parse_txt2img_inputs(read_inputs(request, TXT2IMG_INPUTS), self.pipeline.settings)
        last: list[StepProgress] = []

        def on_step(progress: StepProgress) -> None:
            last[:] = [progress]
            stream.send(progress_outputs(progress))

        images = self.pipeline(params, on_step=on_step, is_cancelled=stream.is_cancelled)
        final = progress_outputs(last[0]) if last else {}
        stream.finish({**final, "image": images, "seed": np.array([params.seed], dtype=np.int64)})

    def finalize(self) -> None:
        self.runner.shutdown()
