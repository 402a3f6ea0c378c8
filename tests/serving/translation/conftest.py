"""The tiny translator in process: its source, assets written as the exporter writes them, and a caller that
runs the components' torch wrappers (the exported graphs' own modules) in place of Triton BLS."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pytest
import torch

from export.descriptors.translator import TranslatorDecoderDescriptor, TranslatorEncoderDescriptor


class TorchComponents:
    """`bls_call`'s signature over the descriptors' torch wrappers; records every call's inputs."""

    def __init__(self, model) -> None:
        self.modules = {cls.name: (cls.from_module(model), cls.from_module(model).wrap(model).eval())
                        for cls in (TranslatorEncoderDescriptor, TranslatorDecoderDescriptor)}
        self.calls: list[tuple[str, dict[str, tuple[int, ...]]]] = []

    def __call__(self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        descriptor, module = self.modules[model]
        self.calls.append((model, {name: tuple(value.shape) for name, value in inputs.items()}))
        with torch.inference_mode():
            results = module(*(torch.from_numpy(np.ascontiguousarray(inputs[s.name])) for s in descriptor.inputs))
        named = {spec.name: value.numpy() for spec, value in zip(descriptor.outputs, results)}
        return {name: named[name] for name in outputs}


@pytest.fixture(scope="session")
def translation_source():
    from export.translation.sources import tiny_translation_source

    return tiny_translation_source()


@pytest.fixture(scope="session")
def translation_assets(translation_source, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from export.translation.repository import ASSETS, write_translate

    repository = tmp_path_factory.mktemp("translate-assets")
    write_translate(translation_source, repository, instances=1)
    return repository / ASSETS


@pytest.fixture
def components(translation_source) -> TorchComponents:
    return TorchComponents(translation_source.model)


@pytest.fixture(scope="session")
def german_sentences(translation_source) -> list[str]:
    """Sentences of the shipped German article texts that fit the tiny model's source length."""
    import re

    from export.translation.sources import corpus

    sentences = [s for text in corpus("de")[:12] for s in re.split(r"(?<=[.!?;:])\s+", text) if s]
    return [s for s in sentences if len(translation_source.tokenizer(s)["input_ids"]) <= 40]
