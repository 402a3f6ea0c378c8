import numpy as np
import pytest
import torch
from diffusers import ControlNetModel

from export.descriptors import DESCRIPTORS
from export.descriptors.base import TensorSpec
from export.descriptors.perception import PERCEPTION_DESCRIPTORS
from export.descriptors.translator import TRANSLATOR_DESCRIPTORS
from export.descriptors.unet import UNetControlNetDescriptor
from export.sources import preset_controlnet


def test_named_axes_resolve_and_map_to_triton_and_onnx():
    spec = TensorSpec("x", "float32", (4, "height/8", "width"))
    assert spec.concrete_dims({"height": 64, "width": 32}) == [4, 8, 32]
    assert spec.triton_dims == [4, -1, -1]
    assert spec.onnx_dynamic_axes == {0: "batch", 2: "height_over_8", 3: "width"}
    with pytest.raises(KeyError, match="height"):
        spec.concrete_dims({"width": 8})


def test_controlnet_residual_inputs_match_a_real_controlnet(tiny_source):
    """The UNet variant's residual inputs have exactly the shapes a ControlNet built from this UNet emits."""
    descriptor = UNetControlNetDescriptor.from_module(tiny_source.unet)
    controlnet = ControlNetModel.from_unet(tiny_source.unet, conditioning_channels=3).eval()
    latents = torch.randn(1, 4, 16, 24)
    with torch.inference_mode():
        down, mid = controlnet(latents, torch.tensor([10.0]), torch.randn(1, 77, 32),
                               controlnet_cond=torch.randn(1, 3, 128, 192), return_dict=False)
    residuals = descriptor.residual_specs()
    sizes = {"height": 16, "width": 24}
    assert [list(t.shape[1:]) for t in (*down, mid)] == [spec.concrete_dims(sizes) for spec in residuals]
    assert residuals[-1].name == "mid_block_additional_residual"


# Perception and translator descriptors come from other sources: tests/export/test_perception_descriptors.py,
# tests/export/test_translator_descriptors.py.
@pytest.mark.parametrize("name", sorted(set(DESCRIPTORS) - {cls.name for cls in (*PERCEPTION_DESCRIPTORS,
                                                                                   *TRANSLATOR_DESCRIPTORS)}))
def test_sample_inputs_run_through_the_wrapped_module(tiny_source, name):
    cls = DESCRIPTORS[name]
    # ControlNets are not part of a pipeline source: the preset builds one per kind.
    module = preset_controlnet("tiny", "depth") if name == "controlnet" else tiny_source.module(cls.source_attribute)
    descriptor = cls.from_module(module, **cls.hints_from(tiny_source))
    inputs = descriptor.sample_inputs(batch=2)
    with torch.inference_mode():
        outputs = descriptor.wrap(module)(*(torch.from_numpy(inputs[s.name]) for s in descriptor.inputs))
    sizes = descriptor.default_sizes()
    for spec, output in zip(descriptor.outputs, outputs):
        assert list(output.shape) == [2, *spec.concrete_dims(sizes)]
        assert np.isfinite(output.numpy()).all()


def test_controlnet_outputs_are_the_unet_residual_inputs(tiny_source):
    """A ControlNet's outputs feed unet_controlnet by name: same names, and the same shapes at one image size."""
    from export.descriptors.controlnet import ControlNetDescriptor

    controlnet = ControlNetDescriptor.from_module(preset_controlnet("tiny", "depth"), **ControlNetDescriptor.hints_from(tiny_source))
    unet = UNetControlNetDescriptor.from_module(tiny_source.unet)
    pixels, latents = controlnet.sizes_for_image(96, 64, 8), unet.sizes_for_image(96, 64, 8)
    assert [(s.name, s.concrete_dims(pixels)) for s in controlnet.outputs] == [
        (s.name, s.concrete_dims(latents)) for s in unet.residual_specs()]
