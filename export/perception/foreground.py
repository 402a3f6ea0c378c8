"""foreground_mask_net: the ONNX salient-object networks rembg users already have (u2net, isnet, BEN...),
served as a Triton component, plus a tiny network built here with the same signature (tests, demo).

rembg's custom sessions fix the pre-processing per family (size, mean, std); the file is served as it is,
with its input and first output renamed to the component's contract (`pixel_values` -> `mask`).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from export.descriptors.base import ComponentDescriptor, TensorSpec
from export.onnx_export import ONNX_OPSET, ParityError, ParityReport
from export.triton_config import BatchingOptions, component_config, write_config
from serving.runners import ONNX_FILE, OnnxRuntimeRunner

log = logging.getLogger(__name__)

NETWORK = "foreground_mask_net"
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@dataclass(frozen=True)
class RembgSession:
    """What a rembg custom session does around the network (rembg/sessions/*_custom.py)."""

    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    size: int


REMBG_SESSIONS = {
    "u2net_custom": RembgSession("u2net_custom", *IMAGENET, 320),  # u2net, u2netp, silueta
    "dis_custom": RembgSession("dis_custom", (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), 1024),  # isnet-general-use
    "ben_custom": RembgSession("ben_custom", (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), 1024),  # BEN2
}


class TinySalientNet(torch.nn.Module):
    """A few convolutions with U^2-Net's signature: image [n, 3, S, S] -> side outputs [n, 1, S, S] in (0, 1)."""

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.encode = torch.nn.Sequential(
            torch.nn.Conv2d(3, channels, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(channels, channels, 3, padding=2, dilation=2), torch.nn.ReLU(),
        )
        self.side = torch.nn.Conv2d(channels, 1, 3, padding=1)
        self.fuse = torch.nn.Conv2d(1, 1, 1)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        side = self.side(self.encode(image))
        return torch.sigmoid(self.fuse(side)), torch.sigmoid(side)


def build_tiny_onnx(path: Path, session: str = "u2net_custom", seed: int = 40) -> Path:
    """The tiny network as an ONNX file shaped like rembg's u2net.onnx (input `input.1`, outputs d0, d1)."""
    torch.manual_seed(seed)
    net = TinySalientNet().eval()
    size = REMBG_SESSIONS[session].size
    sample = torch.randn(1, 3, size, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(net, (sample,), str(path), input_names=["input.1"], output_names=["d0", "d1"],
                          dynamic_axes={"input.1": {0: "batch"}, "d0": {0: "batch"}, "d1": {0: "batch"}},
                          opset_version=ONNX_OPSET, dynamo=False)
    return path


class ForegroundNetDescriptor(ComponentDescriptor):
    """A rembg ONNX file: pixel_values [3, S, S] -> mask [1, S, S] (its first output). ONNX only."""

    name = NETWORK
    source_attribute = "foreground"
    max_batch_size = 8

    def __init__(self, size: int, batchable: bool) -> None:
        self.size = size
        # A file traced at batch 1 cannot take merged requests: Triton then never batches it.
        self.max_batch_size = 8 if batchable else 1

    @classmethod
    def from_onnx(cls, model: onnx.ModelProto, session: RembgSession) -> "ForegroundNetDescriptor":
        batch = model.graph.input[0].type.tensor_type.shape.dim[0]
        return cls(session.size, batchable=not batch.HasField("dim_value") or batch.dim_value != 1)

    @classmethod
    def from_module(cls, module: torch.nn.Module) -> "ForegroundNetDescriptor":
        raise NotImplementedError("foreground_mask_net is exported from an ONNX file (export.perception.foreground)")

    @classmethod
    def load_module(cls, directory: Path) -> torch.nn.Module:
        raise NotImplementedError("foreground_mask_net runs on onnxruntime only (it is the rembg ONNX file)")

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("pixel_values", "float32", (3, self.size, self.size)),)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("mask", "float32", (1, self.size, self.size)),)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        raise NotImplementedError

    def default_sizes(self) -> dict[str, int]:
        return {}


def _rename_io(model: onnx.ModelProto) -> onnx.ModelProto:
    """First input -> pixel_values, first output -> mask; the other side outputs are dropped."""
    graph = model.graph
    renames = {graph.input[0].name: "pixel_values", graph.output[0].name: "mask"}
    for node in graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    graph.input[0].name = "pixel_values"
    first = graph.output[0]
    first.name = "mask"
    del graph.output[:]
    graph.output.append(first)
    return model


def install_foreground_network(onnx_file: Path, session: RembgSession, repository: Path) -> ParityReport:
    """Writes `foreground_mask_net` from a rembg ONNX file; checks it against the file itself."""
    model_dir = repository / NETWORK
    version_dir = model_dir / "1"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    version_dir.mkdir(parents=True)
    model = onnx.load(str(onnx_file))
    descriptor = ForegroundNetDescriptor.from_onnx(model, session)
    onnx.save_model(_rename_io(model), str(version_dir / ONNX_FILE))
    # Parity: the served graph against the user's file, both on onnxruntime, on rembg-like inputs.
    sample = np.random.default_rng(0).standard_normal((1, 3, session.size, session.size)).astype(np.float32)
    original = OnnxRuntimeRunner(onnx_file)
    expected = original.session.run(None, {original.session.get_inputs()[0].name: sample})[0]
    served = OnnxRuntimeRunner(version_dir / ONNX_FILE).run({"pixel_values": sample})["mask"]
    error = float(np.max(np.abs(served - expected)))
    if error > 0:
        raise ParityError(f"{NETWORK}: renamed graph differs from {onnx_file} by {error}")
    (version_dir / "model.py").write_text(
        '"""Generated by `python -m export`: serves one component through the shared runner."""\n\n'
        "from serving.component_model import TritonPythonModel  # noqa: F401\n")
    write_config(component_config(descriptor, "onnxruntime", BatchingOptions()), model_dir)
    log.info("installed %s from %s (rembg session %s, %d px)", NETWORK, onnx_file, session.name, session.size)
    return ParityReport(NETWORK, error, 0.0, {"pixel_values": sample.shape})


@dataclass
class ForegroundSource:
    """The ONNX file and the rembg session whose pre/post-processing the orchestrator reproduces."""

    name: str
    onnx_file: Path
    session: RembgSession


def foreground_source(choice: str, session: str | None = None, build_dir: Path | None = None) -> ForegroundSource:
    """`tiny`: the network built here, written into `build_dir` (the caller's scratch directory, which it removes);
    else the path of a rembg ONNX file."""
    if choice == "tiny":
        if build_dir is None:
            raise ValueError("the tiny foreground network is built into a file: pass build_dir")
        kind = session or "u2net_custom"
        path = build_tiny_onnx(build_dir / "tiny_u2net.onnx", kind)
        return ForegroundSource("tiny", path, REMBG_SESSIONS[kind])
    path = Path(choice)
    if not path.is_file():
        raise FileNotFoundError(f"--foreground-onnx {choice}: no such ONNX file (rembg keeps them in ~/.u2net/)")
    if session is None:  # rembg's names: isnet-*, BEN2 files take 1024 px; u2net, u2netp, silueta 320
        lowered = path.name.lower()
        session = "dis_custom" if "isnet" in lowered else "ben_custom" if "ben" in lowered else "u2net_custom"
    return ForegroundSource(path.stem, path, REMBG_SESSIONS[session])
