"""Prompts from attributes: a detailed generation prompt, a short scoring prompt and a negative prompt.

The three texts are templates the user edits (catalog/templates/*.txt, or a folder of their own through
`CATALOG_TEMPLATES_DIR`); this module only fills their placeholders with phrases built from an `Attributes`.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from catalog.attributes import Attributes
from catalog.vocabulary import PLURAL_CATEGORIES

TEMPLATE_FILES = {"generation": "generation.txt", "scoring": "scoring.txt", "negative": "negative.txt"}
PLACEHOLDERS = ("article", "product", "colours", "features", "pattern", "motifs", "details", "lettering", "fabric",
                "materials", "fit", "sleeves")

_TARGET_POSSESSIVE = {"women": "women's", "men": "men's", "girls": "girls'", "boys": "boys'", "baby": "baby"}
_PATTERN_PHRASE = {"print": "print", "solid": "solid colour", "melange": "melange look", "cable knit": "cable knit",
                   "tie-dye": "tie-dye", "animal print": "animal print"}
_SLEEVE_PHRASE = {"short": "short sleeves", "long": "long sleeves", "three-quarter": "three-quarter sleeves",
                  "sleeveless": "sleeveless"}
_DISPLAY = {"t-shirt": "T-shirt"}  # the spelling a caption uses


class TemplateError(ValueError):
    """A template file is missing, empty or names a placeholder that does not exist."""


@dataclass(frozen=True)
class PromptTemplates:
    generation: str
    scoring: str
    negative: str

    @classmethod
    def load(cls, directory: Path) -> "PromptTemplates":
        texts = {name: _read_template(directory / filename) for name, filename in TEMPLATE_FILES.items()}
        return cls(**texts)


@dataclass(frozen=True)
class Prompts:
    generation: str
    scoring: str
    negative: str


def _read_template(path: Path) -> str:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"prompt template {path} cannot be read: {exc}") from exc
    text = " ".join(line.strip() for line in raw.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    if not text:
        raise TemplateError(f"prompt template {path} is empty (only comments)")
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError as exc:  # an unmatched brace
        raise TemplateError(f"prompt template {path}: {exc}") from exc
    unknown = sorted(fields - set(PLACEHOLDERS))
    if unknown:
        raise TemplateError(f"prompt template {path}: unknown placeholder(s) {', '.join('{' + f + '}' for f in unknown)};"
                            f" known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
    return text


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}" if words else ""


def _with_article(phrase: str, plural: bool) -> str:
    if plural or not phrase:
        return phrase
    return f"{'an' if phrase[0].lower() in 'aeiou' else 'a'} {phrase}"


def placeholder_values(attributes: Attributes) -> dict[str, str]:
    """The phrase for every placeholder; empty where the attributes say nothing."""
    a = attributes
    category = a.category or "garment"
    product = " ".join(p for p in (_TARGET_POSSESSIVE.get(a.target_group or ""), _DISPLAY.get(category, category)) if p)
    colours = _join(a.colours)
    motifs = _join(a.motifs)
    if a.pattern == "print" and motifs:
        pattern, motif_phrase = f"{motifs} print", ""  # "dinosaur print", not "print, dinosaur motif"
    else:
        pattern = _PATTERN_PHRASE.get(a.pattern, f"{a.pattern} pattern") if a.pattern else ""
        motif_phrase = f"{motifs} motif" if motifs else ""
    lettering = f'the lettering "{a.lettering}"' if a.lettering else ""
    details = [d for d in a.details if not (d == "lettering" and lettering)]
    materials = _join([f"{m.percent:g}% {m.name}" if m.percent is not None else m.name for m in a.materials])
    values = {
        "article": _with_article(" ".join(p for p in (colours, product) if p), category in PLURAL_CATEGORIES),
        "product": product,
        "colours": colours,
        "pattern": pattern,
        "motifs": motif_phrase,
        "details": f"with {_join(details)}" if details else "",
        "lettering": lettering,
        "fabric": f"{a.fabric} fabric" if a.fabric else "",
        "materials": materials,
        "fit": f"{a.fit} fit" if a.fit else "",
        "sleeves": _SLEEVE_PHRASE.get(a.sleeve_length or "", ""),
    }
    feature_keys = ("pattern", "motifs", "details", "lettering", "fabric", "materials", "fit", "sleeves")
    values["features"] = ", ".join(values[k] for k in feature_keys if values[k])
    return values


def _tidy(text: str) -> str:
    """Drops the empty comma-separated parts an empty placeholder leaves behind, and doubled spaces."""
    parts = [re.sub(r"\s+", " ", part).strip() for part in text.split(",")]
    return ", ".join(part for part in parts if part)


def build_prompts(attributes: Attributes, templates: PromptTemplates) -> Prompts:
    values = placeholder_values(attributes)
    return Prompts(*(_tidy(template.format_map(values))
                     for template in (templates.generation, templates.scoring, templates.negative)))
