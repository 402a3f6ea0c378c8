"""Article attributes: the schema every extractor answers in, and the deterministic rule-based extractor.

The extractor reads ENGLISH text (the de->en translator's output). Values are folded onto the canonical vocabulary
of catalog/vocabulary.py wherever one is known, whichever extractor produced them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from catalog import vocabulary as vocab
from catalog.matching import PhraseTable, fold

# A short single-line value: it goes into prompts, so no newlines or template braces.
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=40,
                                          pattern=r"^[^\n\r{}]+$")]
TargetGroup = Literal["women", "men", "girls", "boys", "baby"]
SleeveLength = Literal["short", "long", "three-quarter", "sleeveless"]

TABLES = {
    "category": PhraseTable(vocab.CATEGORIES),
    "target_group": PhraseTable(vocab.TARGET_GROUP_PHRASES),
    "colours": PhraseTable(vocab.COLOURS),
    "materials": PhraseTable(vocab.MATERIALS),
    "pattern": PhraseTable(vocab.PATTERNS),
    "motifs": PhraseTable(vocab.MOTIFS),
    "details": PhraseTable(vocab.DETAILS),
    "fit": PhraseTable(vocab.FITS),
    "sleeve_length": PhraseTable(vocab.SLEEVES),
    "fabric": PhraseTable(vocab.FABRICS),
}


def _canonical(field: str, value: object) -> object:
    if isinstance(value, str):
        return TABLES[field].canonical(value) or value
    return value


class Material(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Phrase
    percent: float | None = Field(None, gt=0, le=100)

    @field_validator("name", mode="before")
    @classmethod
    def _fold_name(cls, value: object) -> object:
        return _canonical("materials", value)


class Attributes(BaseModel):
    """What one article text says about the article. Empty lists and None: the text does not say."""

    model_config = ConfigDict(extra="forbid")

    category: Phrase | None = None
    target_group: TargetGroup | None = None
    colours: list[Phrase] = Field(default_factory=list, max_length=12)
    materials: list[Material] = Field(default_factory=list, max_length=12)
    pattern: Phrase | None = None
    motifs: list[Phrase] = Field(default_factory=list, max_length=12)
    details: list[Phrase] = Field(default_factory=list, max_length=24)
    lettering: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                                pattern=r"^[^\n\r{}]+$")] | None = None
    fit: Phrase | None = None
    sleeve_length: SleeveLength | None = None
    fabric: Phrase | None = None

    @field_validator("category", "target_group", "pattern", "fit", "sleeve_length", "fabric", mode="before")
    @classmethod
    def _fold_value(cls, value: object, info) -> object:
        return _canonical(info.field_name, value)

    @field_validator("colours", "motifs", "details", "materials", mode="before")
    @classmethod
    def _fold_list(cls, value: object, info) -> object:
        if value is None:  # an LLM's "nothing" for a list
            return []
        if isinstance(value, list) and info.field_name != "materials":
            return list(dict.fromkeys(_canonical(info.field_name, item) for item in value))
        return value

    @field_validator("materials")
    @classmethod
    def _unique_materials(cls, value: list[Material]) -> list[Material]:
        seen: dict[tuple[str, float | None], Material] = {}
        for material in value:
            seen.setdefault((material.name, material.percent), material)
        return list(seen.values())


@dataclass(frozen=True)
class Extraction:
    attributes: Attributes
    source: Literal["rules", "llm"]
    note: str | None = None  # why the rules answered when an LLM was configured


class AttributeExtractor(Protocol):
    def extract(self, text: str) -> Extraction: ...


_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_NUMBER = r"(\d{1,3}(?:[.,]\d+)?)"
_QUOTED = re.compile(r"[\"“”„«»‘]([^\"“”„«»‘’\n]{1,60})[\"“”„«»’]")


def _material_alternatives() -> str:
    return "|".join(f"(?:{phrase})" for phrases in vocab.MATERIALS.values() for phrase in phrases)


_PERCENT_FIRST = re.compile(rf"(?<![\d.,]){_NUMBER}\s*%\s*(?P<name>{_material_alternatives()})(?!\w)")
_NAME_FIRST = re.compile(rf"(?<!\w)(?P<name>{_material_alternatives()})\s*:?\s*\(?\s*{_NUMBER}\s*%")


class RuleExtractor:
    """Deterministic: phrase tables over the folded English text.

    - category and target group come from the title (the first sentence) when it names them; in a compound
      ("jeans shorts", "T-shirt dress") the last noun is the head;
    - colours, motifs and details: every one mentioned; a quoted phrase is lettering;
    - materials: "95% cotton" or "cotton 95%", then fibres named without a number;
    - pattern: the highest-priority one mentioned; fit, sleeve length and fabric: the first mentioned.
    """

    def extract(self, text: str) -> Extraction:
        folded = fold(text)
        title = folded[: m.start()] if (m := _SENTENCE_END.search(folded)) else folded
        lettering = _lettering(text)
        details = TABLES["details"].values(folded)
        if lettering and "lettering" not in details:
            details.append("lettering")
        attributes = Attributes(
            category=_category(title) or _category(folded),
            target_group=_target_group(title) or _target_group(folded),
            colours=TABLES["colours"].values(folded),
            materials=_materials(folded),
            pattern=_pattern(folded),
            motifs=TABLES["motifs"].values(folded),
            details=details,
            lettering=lettering,
            fit=TABLES["fit"].first(folded),
            sleeve_length=TABLES["sleeve_length"].first(folded),
            fabric=TABLES["fabric"].first(folded),
        )
        return Extraction(attributes, "rules")


def _category(text: str) -> str | None:
    found = TABLES["category"].find(text)
    if not found:
        return None
    head = found[0]
    for following in found[1:]:
        # Adjacent nouns form a compound whose head is the last one.
        if text[head.end:following.start] not in (" ", "-"):
            break
        head = following
    return head.value


def _target_group(text: str) -> str | None:
    found = TABLES["target_group"].values(text)
    if "baby" in found:  # "baby girl" clothes are baby clothes
        return "baby"
    return found[0] if found else None


def _pattern(text: str) -> str | None:
    found = set(TABLES["pattern"].values(text))
    return next((value for value in vocab.PATTERNS if value in found), None)


def _materials(text: str) -> list[dict[str, object]]:
    table = TABLES["materials"]
    spans: list[tuple[int, str, float]] = []
    taken: list[tuple[int, int]] = []
    for regex, number_group in ((_PERCENT_FIRST, 1), (_NAME_FIRST, 2)):
        for m in regex.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            percent = float(m.group(number_group).replace(",", "."))
            name = table.canonical(m.group("name"))
            if name and 0 < percent <= 100:
                spans.append((m.start(), name, percent))
                taken.append((m.start(), m.end()))
    materials: list[dict[str, object]] = [{"name": name, "percent": pct} for _, name, pct in sorted(spans)]
    with_percent = {name for _, name, _ in spans}
    for name in table.values(text):
        if name not in with_percent:
            materials.append({"name": name, "percent": None})
    return materials


def _lettering(text: str) -> str | None:
    m = _QUOTED.search(text)
    return m.group(1).strip() if m and m.group(1).strip() else None
