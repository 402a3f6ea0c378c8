"""Catalog settings: environment variables `CATALOG_*` (or a `.env` file)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TEMPLATES = Path(__file__).parent / "templates"


class CatalogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_", env_file=".env", extra="ignore")

    # Folder with generation.txt, scoring.txt and negative.txt (copy catalog/templates/ and edit).
    templates_dir: Path = DEFAULT_TEMPLATES
    # An OpenAI-compatible server's base URL, e.g. http://127.0.0.1:8000/v1 (vLLM, Triton's OpenAI frontend).
    # Unset: the rule-based extractor alone.
    llm_url: str | None = None
    llm_model: str = "default"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(30.0, gt=0)
    # Ask for `response_format: json_object` (vLLM honours it; switch off for servers that reject the field).
    llm_json_mode: bool = True
    # Longer texts are recorded as row errors (opus-mt-de-en reads at most 512 tokens, roughly 2000 characters).
    max_text_chars: int = Field(2000, ge=1)
    # Catalog jobs: larger input files are refused whole (the CLI exits non-zero, the gateway answers 400).
    max_file_bytes: int = Field(10 * 1024 * 1024, ge=1)
    # The Triton model that translates de->en (DESIGN.md section 3: text BYTES [n] -> translation BYTES [n]).
    translate_model: str = "translate"
