"""What orchestrators know about the exported pipelines: variants, their components, sizes and limits.

A repository holds one or more *variants* (checkpoints exported side by side: a base model, a
LoRA-fused one, an inpainting one), each with its own tokenizer, scheduler config and
`pipeline.json`, plus ControlNets shared by all variants. `variants.json` lists them in export
order; the first is the default. Written by the exporter; torch-free so the gateway and clients can
read it too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Relative to the model repository: variants.json and one folder per variant.
ASSETS_DIR = Path("txt2img") / "1" / "assets"
CATALOG_FILE = "variants.json"
DEFAULT_VARIANT = "base"
# Roles of a variant's components (the Triton model names differ per variant).
COMPONENT_ROLES = ("text_encoder", "unet", "unet_controlnet", "vae_decoder", "vae_encoder")


def component_model_name(variant: str, component: str) -> str:
    """Triton model name of a variant's component: plain for the base variant, `<variant>__<component>` else."""
    return component if variant == DEFAULT_VARIANT else f"{variant}__{component}"


def controlnet_model_name(kind: str) -> str:
    return f"controlnet_{kind}"


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
    unet_in_channels: int = 4  # 9 for inpainting checkpoints (latents + mask + masked-image latents)
    # role -> Triton model name, for the components this variant was exported with
    components: dict[str, str] = field(default_factory=dict)
    # unet_controlnet's residual input names (= the ControlNets' output names), in the UNet's order
    controlnet_residuals: list[str] = field(default_factory=list)
    # Where the orchestrator keeps latents and runs the scheduler: "cuda" when exported with `--device cuda`
    # (its components then run on the GPU and tensors pass between them through DLPack).
    device: str = "cpu"

    @property
    def is_inpainting_unet(self) -> bool:
        return self.unet_in_channels == 2 * self.latent_channels + 1

    def write(self, directory: Path) -> Path:
        path = Path(directory) / "pipeline.json"
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def read(cls, directory: Path) -> "PipelineSettings":
        return cls(**json.loads((Path(directory) / "pipeline.json").read_text()))


@dataclass
class VariantCatalog:
    """variants.json: variant names in export order (the first is the default) and the ControlNets."""

    variants: list[str] = field(default_factory=list)
    controlnets: dict[str, str] = field(default_factory=dict)  # kind -> Triton model name

    @property
    def default(self) -> str:
        return self.variants[0]

    def add_variant(self, name: str) -> None:
        if name not in self.variants:
            self.variants.append(name)

    def write(self, assets: Path) -> Path:
        path = Path(assets) / CATALOG_FILE
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def read(cls, assets: Path) -> "VariantCatalog":
        path = Path(assets) / CATALOG_FILE
        return cls(**json.loads(path.read_text())) if path.exists() else cls()


def default_settings(repository: Path) -> PipelineSettings:
    """Settings of the repository's default variant."""
    assets = Path(repository) / ASSETS_DIR
    return PipelineSettings.read(assets / VariantCatalog.read(assets).default)
