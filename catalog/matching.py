"""Whole-word phrase matching against a vocabulary table (canonical value -> regex phrases)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

# Typographic characters the translator may emit, folded one-for-one so match positions stay valid.
_FOLD = str.maketrans({"’": "'", "‘": "'", "´": "'", "`": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"',
                       "–": "-", "—": "-", "‑": "-", "\u00a0": " "})


def fold(text: str) -> str:
    """Lower-cased text with typographic quotes, dashes and non-breaking spaces made plain."""
    return text.translate(_FOLD).lower()


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    value: str  # the canonical value


class PhraseTable:
    """Finds the canonical values of a table in folded text: at each position the longest phrase wins, and
    matches never overlap (so "off-white" is cream, not also white; "t-shirt" is not also a shirt)."""

    def __init__(self, table: dict[str, tuple[str, ...]]):
        self.table = table

    @cached_property
    def _patterns(self) -> list[tuple[re.Pattern[str], str]]:
        return [(re.compile(rf"(?<!\w)(?:{phrase})(?!\w)"), value)
                for value, phrases in self.table.items() for phrase in phrases]

    def find(self, text: str) -> list[Match]:
        candidates = [Match(m.start(), m.end(), value) for pattern, value in self._patterns
                      for m in pattern.finditer(text) if m.end() > m.start()]
        candidates.sort(key=lambda m: (m.start, -(m.end - m.start)))
        chosen: list[Match] = []
        for match in candidates:
            if not chosen or match.start >= chosen[-1].end:
                chosen.append(match)
        return chosen

    def values(self, text: str) -> list[str]:
        """Every value found, in order of first appearance."""
        return list(dict.fromkeys(m.value for m in self.find(text)))

    def first(self, text: str) -> str | None:
        found = self.find(text)
        return found[0].value if found else None

    def canonical(self, phrase: str) -> str | None:
        """The canonical value whose phrase is the whole of `phrase` (after folding), or None."""
        folded = fold(phrase).strip()
        if folded in self.table:
            return folded
        found = self.find(folded)
        if len(found) == 1 and found[0].start == 0 and found[0].end == len(folded):
            return found[0].value
        return None
