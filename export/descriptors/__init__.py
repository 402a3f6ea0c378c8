"""One descriptor per exported network."""

from __future__ import annotations

from export.descriptors.base import ComponentDescriptor, TensorSpec
from export.descriptors.controlnet import ControlNetDescriptor
from export.descriptors.perception import PERCEPTION_DESCRIPTORS
from export.descriptors.text_encoder import TextEncoderDescriptor
from export.descriptors.translator import TRANSLATOR_DESCRIPTORS
from export.descriptors.unet import UNetControlNetDescriptor, UNetDescriptor
from export.descriptors.vae import VaeDecoderDescriptor, VaeEncoderDescriptor

DESCRIPTORS: dict[str, type[ComponentDescriptor]] = {
    cls.name: cls
    for cls in (TextEncoderDescriptor, UNetDescriptor, UNetControlNetDescriptor, VaeDecoderDescriptor, VaeEncoderDescriptor,
                ControlNetDescriptor, *PERCEPTION_DESCRIPTORS, *TRANSLATOR_DESCRIPTORS)
}

__all__ = ["DESCRIPTORS", "ComponentDescriptor", "TensorSpec"]
