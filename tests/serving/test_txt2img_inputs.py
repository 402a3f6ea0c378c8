"""Parsing of txt2img inputs without a server: defaults, types and ranges."""

from __future__ import annotations

import numpy as np
import pytest

from serving.pipeline_settings import PipelineSettings
from serving.pipelines.errors import InvalidInputError
from serving.pipelines.txt2img_inputs import DEFAULT_SCHEDULER, DEFAULT_STEPS, parse_txt2img_inputs, size_multiple

SETTINGS = PipelineSettings(source="test", latent_channels=4, vae_scale_factor=8, vae_scaling_factor=0.18215,
                            unet_latent_stride=8, default_height=512, default_width=512, max_height=768, max_width=1024)


def _prompt(text: str | bytes = "a sofa") -> dict:
    return {"prompt": np.array([text.encode() if isinstance(text, str) else text], dtype=np.object_)}


def test_defaults_fill_absent_optional_inputs():
    params = parse_txt2img_inputs(_prompt(), SETTINGS)
    assert (params.height, params.width) == (512, 512)
    assert params.num_inference_steps == DEFAULT_STEPS and params.scheduler == DEFAULT_SCHEDULER
    assert params.num_images == 1 and params.negative_prompt == "" and 0 <= params.seed < 2**31
    assert params.do_classifier_free_guidance


def test_latent_stride_sets_the_size_multiple():
    assert size_multiple(SETTINGS) == 64
    params = parse_txt2img_inputs({**_prompt(), "width": np.array([1024], np.int32)}, SETTINGS)
    assert params.width == 1024
    with pytest.raises(InvalidInputError, match="'height': 1024 exceeds the configured maximum 768"):
        parse_txt2img_inputs({**_prompt(), "height": np.array([1024], np.int32)}, SETTINGS)
    with pytest.raises(InvalidInputError, match="'width': 520 is not a multiple of 64"):
        parse_txt2img_inputs({**_prompt(), "width": np.array([520], np.int32)}, SETTINGS)


def test_more_than_one_value_is_refused():
    with pytest.raises(InvalidInputError, match="'seed': expected exactly one value"):
        parse_txt2img_inputs({**_prompt(), "seed": np.array([1, 2], np.int64)}, SETTINGS)


def test_guidance_one_or_less_disables_cfg():
    params = parse_txt2img_inputs({**_prompt(), "guidance_scale": np.array([1.0], np.float32)}, SETTINGS)
    assert not params.do_classifier_free_guidance
    for value in (np.inf, -np.inf):
        with pytest.raises(InvalidInputError, match="'guidance_scale'"):
            parse_txt2img_inputs({**_prompt(), "guidance_scale": np.array([value], np.float32)}, SETTINGS)
