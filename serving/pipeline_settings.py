"""What orchestrators know about the exported pipeline: sizes, VAE factors, limits (pipeline.json).

Written by the exporter next to the tokenizer and scheduler config; torch-free so the gateway and
clients can read it too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

# Relative to the model repository: tokenizer/, scheduler_config.json, pipeline.json.
ASSETS_DIR = Path("txt2img") / "1" / "assets"


@dataclass(frozen=True)
class PipelineSettings:
    source: str
    latent_channels: int
    vae_scale_factor: int
    vae_scaling_factor: float
    unet_latent_stride: int
    default_height: int
    default_width: int
    max_height: int
    max_width: int

    def write(self, assets: Path) -> Path:
        path = Path(assets) / "pipeline.json"
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def read(cls, assets: Path) -> "PipelineSettings":
        return cls(**json.loads((Path(assets) / "pipeline.json").read_text()))
