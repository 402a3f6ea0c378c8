"""txt2img orchestrator: prompt -> text_encoder -> UNet denoising loop -> vae_decoder, through BLS."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from serving.bls import bls_call
from serving.pipelines.txt2img import Txt2ImgPipeline
from serving.pipelines.txt2img_inputs import TXT2IMG_INPUTS, parse_txt2img_inputs
from serving.triton_errors import to_triton_error
from serving.triton_inputs import read_inputs


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        assets = Path(args["model_repository"]) / args["model_version"] / config["parameters"]["assets"]["string_value"]
        self.pipeline = Txt2ImgPipeline(assets, bls_call)

    def execute(self, requests: list) -> list:
        return [self.run_one(request) for request in requests]

    def run_one(self, request):
        try:
            params = parse_txt2img_inputs(read_inputs(request, TXT2IMG_INPUTS), self.pipeline.settings)
            images = self.pipeline(params, is_cancelled=request.is_cancelled)
        except Exception as error:  # noqa: BLE001 - reported to the client; the instance keeps serving
            return pb_utils.InferenceResponse(error=to_triton_error("txt2img", error))
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor("image", images),
            pb_utils.Tensor("seed", np.array([params.seed], dtype=np.int64)),
        ])
