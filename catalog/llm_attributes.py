"""Optional attribute extraction by an OpenAI-compatible chat endpoint (vLLM, Triton's OpenAI frontend, ...).

The answer must be one JSON object that validates as `Attributes`; anything else (an HTTP error, a timeout, prose,
unknown keys, a target group outside the five) is logged and the rule-based extractor answers instead, with the
reason in `Extraction.note`. A job therefore never stops because the LLM misbehaved.
"""

from __future__ import annotations

import json
import logging
import re

import httpx
from pydantic import ValidationError

from catalog.attributes import AttributeExtractor, Attributes, Extraction, RuleExtractor
from catalog.settings import CatalogSettings

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You extract product attributes from an English fashion article description. Answer with one JSON object and "
    "nothing else, with exactly these keys: category (the garment, e.g. \"t-shirt\", \"dress\", \"jeans\"), "
    "target_group (one of \"women\", \"men\", \"girls\", \"boys\", \"baby\", or null), colours (list), "
    "materials (list of {\"name\": fibre, \"percent\": number or null}), pattern (e.g. \"striped\", \"floral\", "
    "\"print\", or null), motifs (list of things a print shows, e.g. \"dinosaur\"), details (list, e.g. "
    "\"embroidery\", \"lettering\", \"buttons\", \"zip\", \"hood\", \"pockets\"), lettering (the quoted words shown "
    "on the article, or null), fit (e.g. \"slim\", or null), sleeve_length (one of \"short\", \"long\", "
    "\"three-quarter\", \"sleeveless\", or null), fabric (e.g. \"denim\", \"knit\", or null). Use lower case and "
    "English. Use null or [] for anything the text does not say; do not guess."
)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


class ChatAttributeExtractor:
    """Asks `{base_url}/chat/completions` for the attributes; falls back to `fallback` on any invalid answer."""

    def __init__(self, base_url: str, model: str = "default", api_key: str | None = None, timeout_s: float = 30.0,
                 json_mode: bool = True, fallback: AttributeExtractor | None = None,
                 client: httpx.Client | None = None):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.json_mode = json_mode
        self.fallback = fallback or RuleExtractor()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.Client(timeout=timeout_s, headers=headers)

    def close(self) -> None:
        self.client.close()

    def extract(self, text: str) -> Extraction:
        try:
            return Extraction(self._ask(text), "llm")
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            # ValidationError and json.JSONDecodeError are ValueErrors.
            reason = _reason(exc)
            log.warning("LLM attributes rejected (%s); using the rule-based extractor", reason)
            fallback = self.fallback.extract(text)
            return Extraction(fallback.attributes, fallback.source, note=f"llm answer rejected: {reason}")

    def _ask(self, text: str) -> Attributes:
        body: dict[str, object] = {
            "model": self.model,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}],
            "temperature": 0,
        }
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        response = self.client.post(self.url, json=body)
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise TypeError(f"message content is {type(content).__name__}, not text")
        answer = json.loads(_FENCE.sub("", content.strip()))
        if not isinstance(answer, dict):
            raise TypeError(f"the answer is a JSON {type(answer).__name__}, not an object")
        return Attributes.model_validate(answer)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "answer"
        return f"invalid {where}: {first['msg']} ({exc.error_count()} error(s))"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {exc.request.url}"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc.msg}"
    return f"{type(exc).__name__}: {exc}"


def make_extractor(settings: CatalogSettings) -> AttributeExtractor:
    """The chat extractor when `CATALOG_LLM_URL` is set, the rule-based one otherwise."""
    if not settings.llm_url:
        return RuleExtractor()
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return ChatAttributeExtractor(settings.llm_url, settings.llm_model, key, settings.llm_timeout_s,
                                  settings.llm_json_mode)
