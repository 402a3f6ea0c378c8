"""Article sheets (XLSX or CSV) as rows of (article_id, German text)."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from catalog.rows import ArticleRow

log = logging.getLogger(__name__)

ID_COLUMNS = ("article_id", "artikelnummer", "artikel_id", "id", "sku")
TEXT_COLUMNS = ("beschreibung", "description", "text", "artikeltext", "article_text")


class SheetError(ValueError):
    """The sheet as a whole cannot be read (no description column, unknown format)."""


def read_articles(path: Path) -> list[ArticleRow]:
    """One row per non-empty line; a row without an id is named after its line (`row-7`)."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        table = _xlsx_rows(path)
    elif suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            table = [list(row) for row in csv.reader(handle)]
    else:
        raise SheetError(f"{path}: unsupported sheet format {suffix!r} (use .xlsx or .csv)")
    if not table:
        raise SheetError(f"{path}: the sheet is empty")
    header = [str(cell).strip().lower() if cell is not None else "" for cell in table[0]]
    text_col = _column(header, TEXT_COLUMNS)
    if text_col is None:
        raise SheetError(f"{path}: no description column (one of {', '.join(TEXT_COLUMNS)}); header is {header}")
    id_col = _column(header, ID_COLUMNS)
    rows = []
    for line, cells in enumerate(table[1:], start=2):
        if all(cell is None or str(cell).strip() == "" for cell in cells):
            continue
        cell = lambda col: cells[col] if col is not None and col < len(cells) else None  # noqa: E731
        article_id = cell(id_col)
        text = cell(text_col)
        rows.append(ArticleRow(str(article_id).strip() if article_id not in (None, "") else f"row-{line}",
                               text if text != "" else None))
    log.info("%s: %d article rows", path, len(rows))
    return rows


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    return next((header.index(name) for name in names if name in header), None)


def _xlsx_rows(path: Path) -> list[list[object]]:
    from openpyxl import load_workbook  # only XLSX input needs it

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()
