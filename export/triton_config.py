"""Generates a component's config.pbtxt from its descriptor (through Triton's own protobuf schema)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from export.descriptors import ComponentDescriptor


@dataclass(frozen=True)
class BatchingOptions:
    max_queue_delay_us: int = 0
    instance_count: int = 1
    # onnxruntime needs two runs per new input shape before it is fast (DESIGN section 5).
    warmup_count: int = 2
    warmup_batch_size: int = 2
    # Named-axis sizes to warm up at (e.g. {"height": 32, "width": 32}); None: the model's native size.
    warmup_sizes: dict[str, int] | None = None
    # Where the component runs (torch runtime): "cuda" gives a GPU instance that takes and returns GPU tensors.
    device: str = "cpu"
    precision: str = "fp32"
    cuda_graphs: bool = True


def component_config(descriptor: ComponentDescriptor, runtime: str, options: BatchingOptions,
                     model_name: str | None = None) -> pb.ModelConfig:
    """`model_name` is the Triton model's name (a variant's `lora__unet`, `controlnet_depth`); default the descriptor's."""
    config = pb.ModelConfig(name=model_name or descriptor.name, backend="python",
                            max_batch_size=descriptor.max_batch_size)
    for spec in descriptor.inputs:
        config.input.add(name=spec.name, data_type=pb.DataType.Value(spec.triton_dtype), dims=spec.triton_dims)
    for spec in descriptor.outputs:
        config.output.add(name=spec.name, data_type=pb.DataType.Value(spec.triton_dtype), dims=spec.triton_dims)
    config.dynamic_batching.max_queue_delay_microseconds = options.max_queue_delay_us
    config.instance_group.add(count=options.instance_count, kind=instance_kind(options.device))
    config.parameters["runtime"].string_value = runtime
    config.parameters["component"].string_value = descriptor.name
    if options.device == "cuda":
        config.parameters["device"].string_value = "cuda"
        config.parameters["precision"].string_value = options.precision
        config.parameters["cuda_graphs"].string_value = "yes" if options.cuda_graphs else "no"
        # The Python backend otherwise copies every input to the host before `execute`.
        config.parameters["FORCE_CPU_ONLY_INPUT_TENSORS"].string_value = "no"
    if options.warmup_count:
        sizes = options.warmup_sizes if options.warmup_sizes is not None else descriptor.default_sizes()
        label = "x".join(str(sizes[axis]) for axis in sorted(sizes)) or "fixed"
        warmup = config.model_warmup.add(name=f"warmup_{label}", batch_size=options.warmup_batch_size,
                                         count=options.warmup_count)
        for spec in descriptor.inputs:
            data = warmup.inputs[spec.name]
            data.data_type = pb.DataType.Value(spec.triton_dtype)
            data.dims.extend(spec.concrete_dims(sizes))
            # Token ids must stay inside the vocabulary; zeros are valid ids.
            if spec.dtype.startswith("int"):
                data.zero_data = True
            else:
                data.random_data = True
    return config


def instance_kind(device: str) -> int:
    return pb.ModelInstanceGroup.KIND_GPU if device == "cuda" else pb.ModelInstanceGroup.KIND_CPU


def write_config(config: pb.ModelConfig, model_dir: Path) -> Path:
    path = model_dir / "config.pbtxt"
    path.write_text(text_format.MessageToString(config))
    return path


def read_config(path: Path) -> pb.ModelConfig:
    return text_format.Parse(Path(path).read_text(), pb.ModelConfig())
