"""Parsing of generation inputs without a server: defaults, types, ranges, images, ControlNets, variants."""

from __future__ import annotations

import numpy as np
import pytest

from serving.contracts import GENERATION_CONTRACTS
from serving.pipeline_settings import PipelineSettings, VariantCatalog
from serving.pipelines.errors import InvalidInputError
from serving.pipelines.generation_inputs import DEFAULT_SCHEDULER, DEFAULT_STEPS, parse_generation_inputs, size_multiple

SETTINGS = PipelineSettings(source="test", latent_channels=4, vae_scale_factor=8, vae_scaling_factor=0.18215,
                            unet_latent_stride=8, default_height=512, default_width=512, max_height=768, max_width=1024,
                            components={"unet": "unet", "unet_controlnet": "unet_controlnet"})
PLAIN = PipelineSettings(**{**SETTINGS.__dict__, "components": {"unet": "plain__unet"}})
INPAINTING = PipelineSettings(**{**SETTINGS.__dict__, "unet_in_channels": 9})
CATALOG = VariantCatalog(["base", "plain", "inpainting"], {"depth": "controlnet_depth"})
SETTINGS_OF = {"base": SETTINGS, "plain": PLAIN, "inpainting": INPAINTING}


def parse_txt2img_inputs(inputs: dict, settings: PipelineSettings = SETTINGS, orchestrator: str = "txt2img"):
    return parse_generation_inputs(inputs, GENERATION_CONTRACTS[orchestrator], CATALOG,
                                   {**SETTINGS_OF, "base": settings})


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


def _image(height: int = 100, width: int = 140, channels: int | None = 3) -> np.ndarray:
    shape = (height, width, channels) if channels else (height, width)
    return np.full(shape, 128, dtype=np.uint8)


def _error(inputs: dict, orchestrator: str = "txt2img") -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        parse_txt2img_inputs({**_prompt(), **inputs}, orchestrator=orchestrator)
    return caught.value


def test_fp32_inputs_keep_the_decimal_the_client_wrote():
    """0.7 as FP32 is 0.69999998...; diffusers computes int(10 * 0.7) = 7 steps, and so must we."""
    params = parse_txt2img_inputs({**_prompt(), "image": _image(), "strength": np.array([0.7], np.float32),
                                   "num_inference_steps": np.array([10], np.int32)}, orchestrator="img2img")
    assert params.strength == 0.7 and params.denoising_steps == 7


def test_image_size_defaults_to_the_input_rounded_down_to_the_stride():
    params = parse_txt2img_inputs({**_prompt(), "image": _image(300, 700)}, orchestrator="img2img")
    assert (params.height, params.width) == (256, 640) and params.strength == 0.8
    params = parse_txt2img_inputs({**_prompt(), "image": _image(), "mask_image": _image(channels=None)},
                                  orchestrator="inpaint")
    assert params.strength == 1.0


@pytest.mark.parametrize(("orchestrator", "inputs", "name", "reason"), [
    ("img2img", {}, "image", "is required"),
    ("img2img", {"image": _image().astype(np.float32)}, "image", "must be uint8"),
    ("img2img", {"image": _image(channels=4)}, "image", "must be [H, W, 3] RGB"),
    ("img2img", {"image": _image(0, 10)}, "image", "is empty"),
    ("img2img", {"image": _image(5000, 10)}, "image", "exceeds the maximum side"),
    ("img2img", {"image": _image(30, 30)}, "image", "rounds down to 0"),
    ("img2img", {"image": _image(), "strength": np.array([1.5], np.float32)}, "strength", "not a finite number in [0, 1]"),
    ("img2img", {"image": _image(), "strength": np.array([0.02], np.float32)}, "strength", "leaves no denoising step"),
    ("inpaint", {"image": _image(), "mask_image": _image(50, 50, None)}, "mask_image", "must match"),
    ("inpaint", {"image": _image(), "mask_image": _image()}, "mask_image", "single-channel"),
    ("txt2img", {"image": _image()}, "image", "is not an input of txt2img"),
    ("txt2img", {"model": np.array([b"nope"], object)}, "model", "available: base, plain, inpainting"),
    ("txt2img", {"model": np.array([b"inpainting"], object)}, "model", "use it through inpaint"),
    ("txt2img", {"controlnet": np.array([b"depth"], object)}, "control_image", "is required when controlnet"),
    ("txt2img", {"control_image": _image()[None]}, "controlnet", "is required with control_image"),
    ("txt2img", {"control_image": _image()[None], "controlnet": np.array([b"canny"], object)}, "controlnet",
     "unknown ControlNet 'canny'; available: depth"),
    ("txt2img", {"control_image": np.stack([_image()] * 2), "controlnet": np.array([b"depth"], object)},
     "controlnet", "names 1 ControlNets but control_image holds 2"),
    ("txt2img", {"control_image": _image()[None], "controlnet": np.array([b"depth"], object),
                 "controlnet_conditioning_scale": np.array([1.0, 2.0], np.float32)},
     "controlnet_conditioning_scale", "needs one per ControlNet (1)"),
    ("txt2img", {"control_image": _image()[None], "controlnet": np.array([b"depth"], object),
                 "controlnet_conditioning_scale": np.array([9.0], np.float32)},
     "controlnet_conditioning_scale", "not a finite number in [0, 5]"),
    ("txt2img", {"control_image": _image()[None], "controlnet": np.array([b"depth"], object),
                 "control_guidance_start": np.array([0.6], np.float32), "control_guidance_end": np.array([0.4], np.float32)},
     "control_guidance_start", "must be below its control_guidance_end"),
    ("txt2img", {"control_image": _image()[None], "controlnet": np.array([b"depth"], object),
                 "model": np.array([b"plain"], object)}, "controlnet", "exported without ControlNet support"),
])
def test_bad_inputs_name_the_input_and_the_rule(orchestrator, inputs, name, reason):
    error = _error(inputs, orchestrator)
    assert error.input_name == name
    assert reason in error.reason


def test_readme_contract_tables_are_the_generated_ones():
    from pathlib import Path

    from serving.contracts import contracts_markdown

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("<!-- contracts:start -->\n", 1)[1].split("\n<!-- contracts:end -->", 1)[0]
    assert section == contracts_markdown()
