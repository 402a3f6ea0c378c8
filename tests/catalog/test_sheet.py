"""Reading article files: configurable columns, JSON lists, and file-level errors that name their reason."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from catalog.sheet import SheetError, detect_format, read_articles

XLSX = Path(__file__).parents[2] / "catalog" / "data" / "articles.xlsx"


def _xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


def test_named_columns_are_read_and_empty_rows_skipped(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "a.xlsx", [["SKU-Nr", "Langtext"], ["X1", "Rotes Kleid"], [None, None], ["X2", None]])
    rows = read_articles(path, id_column="sku-nr", text_column="Langtext")
    assert [(r.article_id, r.text) for r in rows] == [("X1", "Rotes Kleid"), ("X2", None)]


def test_missing_named_column_is_a_file_error_naming_it(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "a.xlsx", [["article_id", "beschreibung"], ["A", "Rock"]])
    with pytest.raises(SheetError, match="missing column 'langtext'"):
        read_articles(path, text_column="langtext")


def test_sheet_without_any_description_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,preis\n1,9.99\n", encoding="utf-8")
    with pytest.raises(SheetError, match="no description column"):
        read_articles(path)


def test_json_list_of_objects_and_of_strings(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"id": "J1", "text": "Blaue Hose"}, "Grüner Pullover", ""]), encoding="utf-8")
    rows = read_articles(path)
    assert [(r.article_id, r.text) for r in rows] == [("J1", "Blaue Hose"), ("row-2", "Grüner Pullover"),
                                                     ("row-3", None)]


def test_password_protected_xlsx_is_refused_with_the_reason(tmp_path: Path) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    encrypted = io.BytesIO()
    with XLSX.open("rb") as source:
        OOXMLFile(source).encrypt("secret", encrypted)
    path = tmp_path / "locked.xlsx"
    path.write_bytes(encrypted.getvalue())
    with pytest.raises(SheetError, match="password-protected"):
        read_articles(path)


def test_malformed_xlsx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"this is not a workbook")
    with pytest.raises(SheetError, match="malformed XLSX: not a zip"):
        read_articles(path)
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(XLSX.read_bytes()[:2000])
    with pytest.raises(SheetError, match="malformed XLSX"):
        read_articles(truncated)


def test_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SheetError, match="file too large"):
        read_articles(XLSX, max_bytes=1000)


def test_unsupported_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.ods"
    path.write_bytes(b"x")
    with pytest.raises(SheetError, match="unsupported sheet format"):
        read_articles(path)


def test_format_is_detected_from_the_bytes() -> None:
    assert detect_format(XLSX.read_bytes()) == ".xlsx"
    assert detect_format(b'\xef\xbb\xbf [{"text": "x"}]') == ".json"
    assert detect_format(b"id,beschreibung\n1,Rock\n") == ".csv"
