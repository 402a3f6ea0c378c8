"""What the `translate` orchestrator knows about its exported model, written at export as JSON (torch-free)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from serving.translation.search import SearchSettings

SETTINGS_FILE = "translation.json"
TOKENIZER_DIR = "tokenizer"


@dataclass(frozen=True)
class TranslationSettings:
    source: str
    search: SearchSettings
    num_beams: int  # the generation config's defaults
    max_length: int  # decoder tokens including the start token, as generate's max_length
    max_source_tokens: int  # the tokenizer's model_max_length: longer texts are split into sentences
    layers: int
    heads: int
    head_dim: int
    decoder_max_batch: int
    encoder_model: str = "translator_encoder"
    decoder_model: str = "translator_decoder"

    def write(self, assets: Path) -> Path:
        path = Path(assets) / SETTINGS_FILE
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def read(cls, assets: Path) -> "TranslationSettings":
        values = json.loads((Path(assets) / SETTINGS_FILE).read_text())
        search = values.pop("search")
        search["bad_token_ids"] = tuple(search["bad_token_ids"])
        return cls(search=SearchSettings(**search), **values)
