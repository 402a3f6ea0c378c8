"""Perception networks: CLIP towers, depth, semantic segmentation.

Each takes the tensor its image processor or tokenizer produces and returns the model's raw output;
the orchestrators around them (serving/perception/) run the library's own pre- and post-processing.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from export.descriptors.base import ComponentDescriptor, TensorSpec


class _ClipTextForExport(torch.nn.Module):
    def __init__(self, clip: torch.nn.Module) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor]:
        # No attention mask: CLIP pools at the first end-of-text token under a causal mask, so padding after
        # it (pad = end-of-text) cannot change the result; inputs are always padded to the full length.
        return (self.clip.get_text_features(input_ids=input_ids).pooler_output,)


class _ClipImageForExport(torch.nn.Module):
    def __init__(self, clip: torch.nn.Module) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.clip.get_image_features(pixel_values=pixel_values).pooler_output,)


class _ClipDescriptor(ComponentDescriptor):
    source_attribute = "clip"
    atol = 1e-4

    def __init__(self, sequence_length: int, vocab_size: int, eos_token_id: int, image_size: int,
                 projection_dim: int) -> None:
        self.sequence_length = sequence_length
        self.vocab_size = vocab_size
        self.eos_token_id = eos_token_id
        self.image_size = image_size
        self.projection_dim = projection_dim

    @classmethod
    def from_module(cls, module: torch.nn.Module) -> "_ClipDescriptor":
        config = module.config
        return cls(config.text_config.max_position_embeddings, config.text_config.vocab_size,
                   config.text_config.eos_token_id, config.vision_config.image_size, config.projection_dim)

    @classmethod
    def load_module(cls, directory: Path) -> torch.nn.Module:
        from transformers import CLIPModel

        return CLIPModel.from_pretrained(directory).eval()

    def default_sizes(self) -> dict[str, int]:
        return {}


class ClipTextDescriptor(_ClipDescriptor):
    """Token ids (padded with end-of-text to the full length) -> projected text embedding (not normalised)."""

    name = "clip_text"
    max_batch_size = 64

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("input_ids", "int64", (self.sequence_length,)),)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("text_embeds", "float32", (self.projection_dim,)),)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return _ClipTextForExport(module)

    def _sample(self, spec: TensorSpec, shape: list[int], rng: np.random.Generator) -> np.ndarray:
        # Real layouts: start token, words, end-of-text at a varying position, end-of-text padding.
        ids = rng.integers(0, self.eos_token_id - 1, size=shape).astype(np.int64)
        for row in ids.reshape(-1, shape[-1]):
            end = int(rng.integers(2, shape[-1]))
            row[0] = self.eos_token_id - 1
            row[end:] = self.eos_token_id
        return ids


class ClipImageDescriptor(_ClipDescriptor):
    """Pixel values of CLIPImageProcessor -> projected image embedding (not normalised)."""

    name = "clip_image"
    max_batch_size = 16

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("pixel_values", "float32", (3, self.image_size, self.image_size)),)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("image_embeds", "float32", (self.projection_dim,)),)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return _ClipImageForExport(module)


class _DepthForExport(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.model(pixel_values=pixel_values).predicted_depth,)


class DepthNetDescriptor(ComponentDescriptor):
    """DPT / Depth Anything: pixel values [3, height, width] -> predicted depth [height, width]."""

    name = "depth_estimator_net"
    source_attribute = "depth"
    max_batch_size = 8
    atol = 1e-3

    def __init__(self, image_size: int, multiple: int) -> None:
        self.image_size = image_size
        self.multiple = multiple  # input sizes must be multiples of the patch size

    @classmethod
    def from_module(cls, module: torch.nn.Module) -> "DepthNetDescriptor":
        config = module.config
        backbone = getattr(config, "backbone_config", None) or config
        size = getattr(config, "image_size", None) or getattr(backbone, "image_size", 518)
        return cls(int(size), int(getattr(backbone, "patch_size", 16)))

    @classmethod
    def load_module(cls, directory: Path) -> torch.nn.Module:
        from transformers import AutoModelForDepthEstimation

        return AutoModelForDepthEstimation.from_pretrained(directory).eval()

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("pixel_values", "float32", (3, "height", "width")),)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("predicted_depth", "float32", ("height", "width")),)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return _DepthForExport(module)

    def default_sizes(self) -> dict[str, int]:
        return {"height": self.image_size, "width": self.image_size}


class _StaticAdaptiveAvgPool2d(torch.nn.Module):
    """AdaptiveAvgPool2d as explicit bin means (PyTorch's bins: [floor(i*n/k), ceil((i+1)*n/k))).

    The legacy ONNX exporter refuses adaptive pooling whose output size does not divide the input
    (UperNet's pyramid pools to 1, 2, 3, 6 cells); on a static input size these slices export as-is.
    """

    def __init__(self, output_size) -> None:
        super().__init__()
        size = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
        self.output_size = tuple(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = int(x.shape[-2]), int(x.shape[-1])
        out_h, out_w = (o if o is not None else n for o, n in zip(self.output_size, (height, width)))
        rows = []
        for i in range(out_h):
            top, bottom = (i * height) // out_h, -(-((i + 1) * height) // out_h)
            cells = [x[..., top:bottom, (j * width) // out_w: -(-((j + 1) * width) // out_w)].mean(dim=(-2, -1), keepdim=True)
                     for j in range(out_w)]
            rows.append(torch.cat(cells, dim=-1))
        return torch.cat(rows, dim=-2)


class _SegmenterForExport(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        model = copy.deepcopy(model)  # the source model stays untouched (it is the parity reference)
        for parent in list(model.modules()):
            for child_name, child in list(parent.named_children()):
                if isinstance(child, torch.nn.AdaptiveAvgPool2d):
                    static = _StaticAdaptiveAvgPool2d(child.output_size)
                    setattr(parent, child_name, static)
                    # UperNetPyramidPoolingBlock also calls its layers from a plain list
                    layers = getattr(parent, "layers", None)
                    if isinstance(layers, list):
                        parent.layers = [static if layer is child else layer for layer in layers]
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.model(pixel_values=pixel_values).logits,)


class SegmenterNetDescriptor(ComponentDescriptor):
    """UperNet / Segformer: pixel values [3, S, S] -> class logits [num_labels, S/stride, S/stride].

    The size is fixed: the ADE20K image processors resize every image to it, and UperNet's pyramid
    pooling (adaptive average pooling) only exports to ONNX with a static input size.
    """

    name = "segmenter_net"
    source_attribute = "segmenter"
    max_batch_size = 8
    atol = 1e-3

    def __init__(self, num_labels: int, image_size: int, output_stride: int) -> None:
        self.num_labels = num_labels
        self.image_size = image_size
        self.output_stride = output_stride  # UperNet upsamples to the input (1); Segformer outputs 1/4

    @classmethod
    def from_module(cls, module: torch.nn.Module) -> "SegmenterNetDescriptor":
        stride = 4 if module.config.model_type == "segformer" else 1
        # Checkpoints do not record their input size; the presets set `image_size`, ADE20K models use 512.
        return cls(module.config.num_labels, int(getattr(module.config, "image_size", 512)), stride)

    @classmethod
    def load_module(cls, directory: Path) -> torch.nn.Module:
        from transformers import AutoModelForSemanticSegmentation

        return AutoModelForSemanticSegmentation.from_pretrained(directory).eval()

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("pixel_values", "float32", (3, self.image_size, self.image_size)),)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        side = self.image_size // self.output_stride
        return (TensorSpec("logits", "float32", (self.num_labels, side, side)),)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return _SegmenterForExport(module)

    def default_sizes(self) -> dict[str, int]:
        return {}


class _SamEncoderForExport(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.model.get_image_embeddings(pixel_values),)


class _SamDecoderForExport(torch.nn.Module):
    """SamModel's prompt encoder + mask decoder on precomputed image embeddings, with points and boxes in
    one tensor: label 0/1 = background/foreground point, 2/3 = a box's top-left/bottom-right corner,
    -1 = padding. This is exactly what SamPromptEncoder computes for points, boxes or both (boxes go
    after the points; points alone get one padding point), so one graph serves every prompt kind."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image_embeddings: torch.Tensor, prompt_points: torch.Tensor,
                prompt_labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        encoder = self.model.prompt_encoder
        size = (encoder.input_image_size, encoder.input_image_size)
        embedding = encoder.shared_embedding(prompt_points + 0.5, size)
        labels = prompt_labels[..., None]
        embedding = torch.where(labels == -1, encoder.not_a_point_embed.weight, embedding)
        for label in range(4):
            embedding = torch.where(labels == label, embedding + encoder.point_embed[label].weight, embedding)
        batch = image_embeddings.shape[0]
        dense = encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(batch, -1, *image_embeddings.shape[-2:])
        positional = self.model.get_image_wide_positional_embeddings().repeat(batch, 1, 1, 1)
        masks, scores = self.model.mask_decoder(
            image_embeddings=image_embeddings, image_positional_embeddings=positional,
            sparse_prompt_embeddings=embedding, dense_prompt_embeddings=dense, multimask_output=True,
        )[:2]
        return scores, masks


class _SamDescriptor(ComponentDescriptor):
    source_attribute = "sam"
    atol = 1e-4

    def __init__(self, image_size: int, channels: int, embedding_size: int) -> None:
        self.image_size = image_size
        self.channels = channels
        self.embedding_size = embedding_size

    @classmethod
    def from_module(cls, module: torch.nn.Module) -> "_SamDescriptor":
        config = module.config
        return cls(config.vision_config.image_size, config.vision_config.output_channels,
                   config.prompt_encoder_config.image_embedding_size)

    @classmethod
    def load_module(cls, directory: Path) -> torch.nn.Module:
        from transformers import SamModel

        return SamModel.from_pretrained(directory).eval()

    def _embeddings(self) -> TensorSpec:
        e = self.embedding_size
        return TensorSpec("image_embeddings", "float32", (self.channels, e, e))


class SamImageEncoderDescriptor(_SamDescriptor):
    """SAM's ViT: the padded 1024 px image -> image embeddings (computed once per image)."""

    name = "sam_image_encoder"
    max_batch_size = 4

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("pixel_values", "float32", (3, self.image_size, self.image_size)),)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return (self._embeddings(),)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return _SamEncoderForExport(module)

    def default_sizes(self) -> dict[str, int]:
        return {}


class SamMaskDecoderDescriptor(_SamDescriptor):
    """Image embeddings + prompts [prompts, points, 2] -> 3 low-res mask logits and IoU scores per prompt."""

    name = "sam_mask_decoder"
    max_batch_size = 4

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (self._embeddings(), TensorSpec("prompt_points", "float32", ("prompts", "points", 2)),
                TensorSpec("prompt_labels", "int64", ("prompts", "points")))

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        side = 4 * self.embedding_size
        return (TensorSpec("iou_scores", "float32", ("prompts", 3)),
                TensorSpec("pred_masks", "float32", ("prompts", 3, side, side)))

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return _SamDecoderForExport(module)

    def default_sizes(self) -> dict[str, int]:
        return {"prompts": 4, "points": 3}

    def _sample(self, spec: TensorSpec, shape: list[int], rng: np.random.Generator) -> np.ndarray:
        if spec.name == "prompt_points":
            return rng.uniform(0, self.image_size, size=shape).astype(np.float32)
        if spec.name == "prompt_labels":
            return rng.integers(-1, 4, size=shape).astype(np.int64)
        return rng.standard_normal(shape).astype(np.float32)


PERCEPTION_DESCRIPTORS: tuple[type[ComponentDescriptor], ...] = (
    ClipTextDescriptor, ClipImageDescriptor, DepthNetDescriptor, SegmenterNetDescriptor,
    SamImageEncoderDescriptor, SamMaskDecoderDescriptor,
)
