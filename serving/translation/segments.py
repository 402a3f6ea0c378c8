"""Texts longer than the model's maximum source length: split into sentences, translate each, rejoin."""

from __future__ import annotations

import re
from typing import Callable

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


def split_text(text: str, fits: Callable[[str], bool]) -> list[str]:
    """[text] when it fits; else its sentences, and any sentence that still does not fit cut between words
    into the longest pieces that do (a single word too long stays whole: the tokenizer truncates it)."""
    if fits(text):
        return [text]
    pieces = []
    for sentence in (part for part in _SENTENCE_END.split(text.strip()) if part):
        if fits(sentence):
            pieces.append(sentence)
            continue
        current: list[str] = []
        for word in sentence.split():
            if current and not fits(" ".join(current + [word])):
                pieces.append(" ".join(current))
                current = []
            current.append(word)
        if current:
            pieces.append(" ".join(current))
    return pieces


def join_translations(translations: list[str]) -> str:
    return " ".join(part.strip() for part in translations if part.strip())
