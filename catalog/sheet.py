"""Article sheets (XLSX, CSV or a JSON list) as rows of (article_id, German text).

File-level problems (unknown format, too large, a missing column, an encrypted or malformed XLSX) raise
`SheetError` with the reason; row-level problems (an empty or overlong description) are left to the row.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import zipfile
from pathlib import Path

from catalog.rows import ArticleRow

log = logging.getLogger(__name__)

ID_COLUMNS = ("article_id", "artikelnummer", "artikel_id", "id", "sku")
TEXT_COLUMNS = ("beschreibung", "description", "text", "artikeltext", "article_text")
FORMATS = (".xlsx", ".csv", ".json")
# An encrypted (password-protected) XLSX is an OLE compound file, not a zip; so is a legacy .xls.
OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")


class SheetError(ValueError):
    """The sheet as a whole cannot be read (format, size, missing column, encrypted or malformed file)."""


def read_articles(path: Path, id_column: str | None = None, text_column: str | None = None,
                  max_bytes: int | None = None) -> list[ArticleRow]:
    """One row per non-empty line; a row without an id is named after its line (`row-7`).

    `id_column`/`text_column` name the columns (or JSON keys); None: the first of ID_COLUMNS/TEXT_COLUMNS present.
    """
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise SheetError(f"{path.name}: unsupported sheet format {suffix!r} (use {', '.join(FORMATS)})")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SheetError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if max_bytes is not None and size > max_bytes:
        raise SheetError(f"{path.name}: file too large: {size} bytes, the limit is {max_bytes} "
                         f"(CATALOG_MAX_FILE_BYTES)")
    data = path.read_bytes()
    if suffix == ".json":
        return _json_rows(path.name, data, id_column, text_column)
    table = _xlsx_rows(path.name, data) if suffix == ".xlsx" else _csv_rows(path.name, data)
    if not table:
        raise SheetError(f"{path.name}: the sheet is empty")
    header = [str(cell).strip().lower() if cell is not None else "" for cell in table[0]]
    text_col = _column(path.name, header, text_column, TEXT_COLUMNS, "description")
    id_col = _column(path.name, header, id_column, ID_COLUMNS, "id", required=id_column is not None)
    rows = []
    for line, cells in enumerate(table[1:], start=2):
        if all(cell is None or str(cell).strip() == "" for cell in cells):
            continue
        cell = lambda col: cells[col] if col is not None and col < len(cells) else None  # noqa: E731
        rows.append(ArticleRow(_article_id(cell(id_col), f"row-{line}"), _text(cell(text_col))))
    log.info("%s: %d article rows", path.name, len(rows))
    return rows


def _article_id(value: object, fallback: str) -> str:
    return str(value).strip() if value not in (None, "") and str(value).strip() else fallback


def _text(value: object) -> object:
    return None if value == "" else value


def _column(name: str, header: list[str], wanted: str | None, defaults: tuple[str, ...], what: str,
            required: bool = True) -> int | None:
    if wanted is not None:
        if wanted.strip().lower() not in header:
            raise SheetError(f"{name}: missing column {wanted!r} (the {what} column); header is {header}")
        return header.index(wanted.strip().lower())
    found = next((header.index(column) for column in defaults if column in header), None)
    if found is None and required and what == "description":
        raise SheetError(f"{name}: no description column (one of {', '.join(defaults)}, or name it); "
                         f"header is {header}")
    return found


def _csv_rows(name: str, data: bytes) -> list[list[object]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SheetError(f"{name}: not UTF-8 text (byte {exc.start}); save the CSV as UTF-8") from None
    try:
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise SheetError(f"{name}: malformed CSV: {exc}") from None


def _xlsx_rows(name: str, data: bytes) -> list[list[object]]:
    if data.startswith(OLE_MAGIC):
        raise SheetError(f"{name}: password-protected (encrypted) XLSX or a legacy .xls file: "
                         f"save it as an unencrypted .xlsx workbook")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise SheetError(f"{name}: malformed XLSX: not a zip archive")
    from openpyxl import load_workbook  # only XLSX input needs it

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken workbooks (KeyError, BadZipFile, ...)
        raise SheetError(f"{name}: malformed XLSX: {type(exc).__name__}: {exc}") from None
    try:
        if not workbook.worksheets:
            raise SheetError(f"{name}: the workbook has no worksheet")
        return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()


def _json_rows(name: str, data: bytes, id_key: str | None, text_key: str | None) -> list[ArticleRow]:
    """A JSON list of objects ({"article_id": ..., "beschreibung": ...}) or of plain description strings."""
    try:
        items = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SheetError(f"{name}: malformed JSON: {exc}") from None
    if not isinstance(items, list):
        raise SheetError(f"{name}: expected a JSON list of articles, got a {type(items).__name__}")
    rows = []
    for index, item in enumerate(items, start=1):
        if isinstance(item, str) or item is None:
            rows.append(ArticleRow(f"row-{index}", _text(item)))
            continue
        if not isinstance(item, dict):
            rows.append(ArticleRow(f"row-{index}", item))  # the row records that this is no description
            continue
        keys = {str(key).strip().lower(): key for key in item}
        text_name = text_key.strip().lower() if text_key else next((k for k in TEXT_COLUMNS if k in keys), None)
        if text_name is None or text_name not in keys:
            raise SheetError(f"{name}: item {index} has no description key "
                             f"({text_key!r} or one of {', '.join(TEXT_COLUMNS)})")
        id_name = id_key.strip().lower() if id_key else next((k for k in ID_COLUMNS if k in keys), None)
        article_id = item.get(keys[id_name]) if id_name in keys else None
        rows.append(ArticleRow(_article_id(article_id, f"row-{index}"), _text(item[keys[text_name]])))
    log.info("%s: %d article rows", name, len(rows))
    return rows


def detect_format(data: bytes) -> str:
    """The suffix an uploaded file's bytes call for: a zip or an OLE file is an XLSX (the OLE case an
    encrypted one, refused when read), a JSON list starts with '[', anything else is read as CSV."""
    if data.startswith(b"PK\x03\x04") or data.startswith(OLE_MAGIC):
        return ".xlsx"
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        return ".json"
    return ".csv"
