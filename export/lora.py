"""LoRA files fused into a pipeline's UNet and text encoder at export, exactly as diffusers does it.

`load_lora_weights` reads diffusers- and kohya-format safetensors; `fuse_lora` folds each adapter
into the base weights at its scale; `unload_lora_weights` then drops the adapter layers, leaving plain
modules whose weights include the LoRA (what the exporter writes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from export.sources import PipelineSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoraSpec:
    path: Path
    scale: float = 1.0

    @classmethod
    def parse(cls, text: str) -> "LoraSpec":
        """FILE or FILE:SCALE."""
        path, _, scale = text.rpartition(":") if text.rpartition(":")[2].replace(".", "", 1).isdigit() else (text, "", "")
        spec = cls(Path(path), float(scale) if scale else 1.0)
        if not spec.path.is_file():
            raise FileNotFoundError(f"LoRA file not found: {spec.path}")
        return spec


def fuse_loras(source: PipelineSource, loras: list[LoraSpec]) -> PipelineSource:
    """Fuses `loras` (in order) into `source`'s UNet and text encoder, in place; returns `source`."""
    if not loras:
        return source
    pipeline = source.diffusers_pipeline()
    for index, lora in enumerate(loras):
        name = f"lora_{index}"
        pipeline.load_lora_weights(str(lora.path), adapter_name=name)
        pipeline.fuse_lora(lora_scale=lora.scale, adapter_names=[name])
        log.info("fused LoRA %s at scale %g", lora.path, lora.scale)
    pipeline.unload_lora_weights()
    source.unet, source.text_encoder = pipeline.unet.eval(), pipeline.text_encoder.eval()
    return source
