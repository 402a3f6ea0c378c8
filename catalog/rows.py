"""Row-level extraction for a whole sheet: a bad row is a recorded error, never an exception that stops the job."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from catalog.attributes import AttributeExtractor, Attributes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArticleRow:
    article_id: str
    text: object  # as read from the sheet: a cell may be empty or a number


@dataclass(frozen=True)
class RowResult:
    article_id: str
    attributes: Attributes | None
    source: str | None = None  # "rules" or "llm"
    note: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def text_error(text: object, max_chars: int) -> str | None:
    """Why `text` cannot be extracted from, or None when it can."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return "empty text: the description cell is empty"
    if not isinstance(text, str):
        return f"text is not a description: the cell holds a {type(text).__name__} ({text!r:.40})"
    length = len(text.strip())
    if length > max_chars:
        return (f"text too long: {length} characters, the limit is {max_chars} "
                f"(CATALOG_MAX_TEXT_CHARS); split or shorten the description")
    return None


def extract_row(row: ArticleRow, extractor: AttributeExtractor, max_chars: int) -> RowResult:
    error = text_error(row.text, max_chars)
    if error is None:
        try:
            extraction = extractor.extract(str(row.text).strip())
            return RowResult(row.article_id, extraction.attributes, extraction.source, extraction.note)
        except Exception as exc:  # one broken row must not stop the job; the row records why
            log.exception("attribute extraction failed for article %s", row.article_id)
            error = f"extraction failed: {type(exc).__name__}: {exc}"
    log.warning("article %s skipped: %s", row.article_id, error)
    return RowResult(row.article_id, None, error=error)


def extract_rows(rows: list[ArticleRow], extractor: AttributeExtractor, max_chars: int) -> list[RowResult]:
    return [extract_row(row, extractor, max_chars) for row in rows]
