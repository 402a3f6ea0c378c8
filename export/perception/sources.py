"""Where the perception networks' weights come from: random-weight presets or `from_pretrained`.

Each family (CLIP, depth, segmenter) is a transformers model plus the processor its users call
(tokenizer, image processor). Presets build the real classes with a fixed seed and no download:
`tiny` for tests and the demo, and real-size architectures for benchmarks. Any other value is a
Hugging Face id or a directory written by `save_pretrained`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from transformers import (
    AutoImageProcessor,
    AutoModelForDepthEstimation,
    AutoTokenizer,
    CLIPConfig,
    CLIPModel,
    ConvNextConfig,
    DPTConfig,
    DPTForDepthEstimation,
    UperNetConfig,
    UperNetForSemanticSegmentation,
)
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from transformers.models.dpt.image_processing_pil_dpt import DPTImageProcessorPil
from transformers.models.segformer.image_processing_pil_segformer import SegformerImageProcessorPil

from export.tokenizer import CLIP_MAX_LENGTH, offline_clip_tokenizer

log = logging.getLogger(__name__)

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


@dataclass
class PerceptionSource:
    """One family's torch model and the processors its library users call, under one name."""

    family: str
    name: str
    model: torch.nn.Module
    image_processor: Any
    tokenizer: Any = None

    def module(self, attribute: str) -> torch.nn.Module:
        # Descriptors name the attribute they export; every perception network is the whole model.
        return self.model

    def save_pretrained(self, directory: Path) -> None:
        """A transformers checkpoint directory (what `from_pretrained` and the reference libraries load)."""
        self.model.save_pretrained(directory)
        self.image_processor.save_pretrained(directory)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(directory)


def _seeded(builder: Callable[[], torch.nn.Module], seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return builder().eval()


# --- CLIP ---------------------------------------------------------------------------------------

def _clip(name: str, seed: int, image_size: int, text: dict[str, Any], vision: dict[str, Any],
          projection_dim: int) -> PerceptionSource:
    tokenizer_ids = {"bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407}
    config = CLIPConfig(
        text_config=dict(vocab_size=49408, max_position_embeddings=CLIP_MAX_LENGTH, projection_dim=projection_dim,
                         **tokenizer_ids, **text),
        vision_config=dict(image_size=image_size, projection_dim=projection_dim, **vision),
        projection_dim=projection_dim,
    )
    model = _seeded(lambda: CLIPModel(config), seed)
    processor = CLIPImageProcessorPil(size={"shortest_edge": image_size},
                                      crop_size={"height": image_size, "width": image_size})
    return PerceptionSource("clip", name, model, processor, offline_clip_tokenizer())


def clip_tiny(seed: int = 10) -> PerceptionSource:
    small = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2)
    return _clip("tiny", seed, 32, small, dict(small, patch_size=8), projection_dim=32)


def clip_vit_b32(seed: int = 10) -> PerceptionSource:
    """openai/clip-vit-base-patch32's architecture."""
    return _clip("vit-b32", seed, 224,
                 dict(hidden_size=512, intermediate_size=2048, num_attention_heads=8, num_hidden_layers=12),
                 dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                      patch_size=32), projection_dim=512)


def clip_vit_l14(seed: int = 10) -> PerceptionSource:
    """openai/clip-vit-large-patch14's architecture (the CLIP score users threshold at 28-30)."""
    return _clip("vit-l14", seed, 224,
                 dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12),
                 dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24,
                      patch_size=14), projection_dim=768)


def clip_pretrained(path_or_id: str) -> PerceptionSource:
    model = CLIPModel.from_pretrained(path_or_id).eval()
    processor = AutoImageProcessor.from_pretrained(path_or_id, backend="pil")
    tokenizer = AutoTokenizer.from_pretrained(path_or_id, model_max_length=CLIP_MAX_LENGTH)
    return PerceptionSource("clip", _name(path_or_id), model, processor, tokenizer)


# --- depth (DPT family; Depth Anything loads through the same API) ---------------------------------

def _dpt_processor(size: int) -> DPTImageProcessorPil:
    # Intel/dpt-large's preprocessor_config: square resize, mean/std 0.5, bicubic.
    return DPTImageProcessorPil(size={"height": size, "width": size}, keep_aspect_ratio=False, ensure_multiple_of=1,
                                image_mean=[0.5] * 3, image_std=[0.5] * 3, resample=3)


def depth_tiny(seed: int = 20) -> PerceptionSource:
    config = DPTConfig(image_size=64, patch_size=16, hidden_size=32, num_hidden_layers=4, num_attention_heads=4,
                       intermediate_size=37, neck_hidden_sizes=[16, 16, 32, 32], fusion_hidden_size=16,
                       backbone_out_indices=[0, 1, 2, 3], head_in_index=-1, initializer_range=0.1)
    model = _seeded(lambda: DPTForDepthEstimation(config), seed)
    # At random init the head's final ReLU zeroes most pixels; a positive bias keeps a real depth map.
    with torch.no_grad():
        model.head.head[-2].bias.fill_(0.1)
    return PerceptionSource("depth", "tiny", model, _dpt_processor(64))


def depth_dpt_large(seed: int = 20) -> PerceptionSource:
    """Intel/dpt-large's architecture (ViT-L/16 at 384 px); DPTConfig's defaults are that model."""
    return PerceptionSource("depth", "dpt-large", _seeded(lambda: DPTForDepthEstimation(DPTConfig()), seed),
                            _dpt_processor(384))


def depth_pretrained(path_or_id: str) -> PerceptionSource:
    model = AutoModelForDepthEstimation.from_pretrained(path_or_id).eval()
    processor = AutoImageProcessor.from_pretrained(path_or_id, backend="pil")
    return PerceptionSource("depth", _name(path_or_id), model, processor)


# --- semantic segmentation (UperNet on ADE20K, what ControlNet-seg users run) ---------------------

def _segformer_processor(size: int) -> SegformerImageProcessorPil:
    # openmmlab/upernet-convnext-small's preprocessor_config.
    return SegformerImageProcessorPil(size={"height": size, "width": size}, image_mean=IMAGENET_MEAN,
                                      image_std=IMAGENET_STD, do_reduce_labels=False)


def _upernet(depths: list[int], hidden_sizes: list[int], hidden_size: int, auxiliary: bool,
             image_size: int) -> UperNetConfig:
    backbone = ConvNextConfig(depths=depths, hidden_sizes=hidden_sizes,
                              out_features=["stage1", "stage2", "stage3", "stage4"])
    return UperNetConfig(backbone_config=backbone, hidden_size=hidden_size, num_labels=150,
                         use_auxiliary_head=auxiliary, auxiliary_in_channels=hidden_sizes[2],
                         image_size=image_size)  # not a UperNet field: the size the exporter traces and warms at


def segmenter_tiny(seed: int = 30) -> PerceptionSource:
    config = _upernet([1, 1, 1, 1], [8, 16, 32, 64], 16, auxiliary=False, image_size=64)
    return PerceptionSource("segmenter", "tiny", _seeded(lambda: UperNetForSemanticSegmentation(config), seed),
                            _segformer_processor(64))


def segmenter_upernet_convnext_small(seed: int = 30) -> PerceptionSource:
    """openmmlab/upernet-convnext-small's architecture (ADE20K, 150 classes, 512 px)."""
    config = _upernet([3, 3, 27, 3], [96, 192, 384, 768], 512, auxiliary=True, image_size=512)
    return PerceptionSource("segmenter", "upernet-convnext-small",
                            _seeded(lambda: UperNetForSemanticSegmentation(config), seed), _segformer_processor(512))


def segmenter_pretrained(path_or_id: str) -> PerceptionSource:
    from transformers import AutoModelForSemanticSegmentation

    model = AutoModelForSemanticSegmentation.from_pretrained(path_or_id).eval()
    processor = AutoImageProcessor.from_pretrained(path_or_id, backend="pil")
    return PerceptionSource("segmenter", _name(path_or_id), model, processor)


# --- Segment Anything (transformers SamModel) -------------------------------------------------------

def _sam_processor(size: int):
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    return SamImageProcessorPil(size={"longest_edge": size}, pad_size={"height": size, "width": size})


def sam_tiny(seed: int = 50) -> PerceptionSource:
    from transformers import SamConfig, SamModel

    config = SamConfig(
        # SamVisionConfig initialises at 1e-10 by default: embeddings would be ~0 and every mask a coin toss.
        vision_config=dict(hidden_size=32, output_channels=32, num_hidden_layers=2, num_attention_heads=4,
                           image_size=64, patch_size=8, window_size=4, global_attn_indexes=[1], num_pos_feats=16,
                           mlp_dim=37, initializer_range=0.1),
        prompt_encoder_config=dict(hidden_size=32, image_size=64, patch_size=8, image_embedding_size=8,
                                   mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=32, mlp_dim=64, num_attention_heads=4, iou_head_hidden_dim=32),
        initializer_range=0.2,  # mask logits of order 0.1 (not 1e-5): binarised masks are then well defined
    )
    return PerceptionSource("sam", "tiny", _seeded(lambda: SamModel(config), seed), _sam_processor(64))


def sam_vit_base(seed: int = 50) -> PerceptionSource:
    """facebook/sam-vit-base's architecture (SamConfig's defaults), 1024 px."""
    from transformers import SamConfig, SamModel

    return PerceptionSource("sam", "vit-base", _seeded(lambda: SamModel(SamConfig()), seed), _sam_processor(1024))


def sam_pretrained(path_or_id: str) -> PerceptionSource:
    from transformers import SamModel

    model = SamModel.from_pretrained(path_or_id).eval()
    return PerceptionSource("sam", _name(path_or_id), model, AutoImageProcessor.from_pretrained(path_or_id, backend="pil"))


def _name(path_or_id: str) -> str:
    return Path(path_or_id).name or str(path_or_id)


@dataclass(frozen=True)
class Family:
    presets: dict[str, Callable[[], PerceptionSource]]
    pretrained: Callable[[str], PerceptionSource]
    real_size: str  # the preset benchmarks use


FAMILIES: dict[str, Family] = {
    "clip": Family({"tiny": clip_tiny, "vit-b32": clip_vit_b32, "vit-l14": clip_vit_l14}, clip_pretrained, "vit-l14"),
    "depth": Family({"tiny": depth_tiny, "dpt-large": depth_dpt_large}, depth_pretrained, "dpt-large"),
    "segmenter": Family({"tiny": segmenter_tiny, "upernet-convnext-small": segmenter_upernet_convnext_small},
                        segmenter_pretrained, "upernet-convnext-small"),
    "sam": Family({"tiny": sam_tiny, "vit-base": sam_vit_base}, sam_pretrained, "vit-base"),
}


def load_perception_source(family: str, preset_or_path: str) -> PerceptionSource:
    """A preset name of the family, else `from_pretrained` on a Hugging Face id or a local directory."""
    spec = FAMILIES[family]
    if preset_or_path in spec.presets:
        return spec.presets[preset_or_path]()
    log.info("loading %s weights from %s", family, preset_or_path)
    return spec.pretrained(preset_or_path)
