"""Row-level bad input: empty, non-text or overlong descriptions are recorded errors; the job goes on."""

from __future__ import annotations

import csv

import pytest
from openpyxl import Workbook

from catalog.attributes import Extraction, RuleExtractor
from catalog.rows import ArticleRow, extract_rows, text_error
from catalog.sheet import SheetError, read_articles

GOOD = "Boys hoodie with lettering. The red hoodie has the lettering “Game On”. Material: 100% cotton."


@pytest.mark.parametrize("text, error", [
    (None, "empty text"),
    ("", "empty text"),
    ("   \n\t", "empty text"),
    (12345, "not a description: the cell holds a int"),
    ("x" * 2001, "text too long: 2001 characters, the limit is 2000 (CATALOG_MAX_TEXT_CHARS)"),
])
def test_text_error(text, error):
    assert error in text_error(text, 2000)


def test_bad_rows_are_recorded_and_the_rest_extracted(caplog):
    rows = [ArticleRow("A1", ""), ArticleRow("A2", GOOD), ArticleRow("A3", "y" * 150), ArticleRow("A4", None)]
    results = extract_rows(rows, RuleExtractor(), max_chars=120)
    assert [r.ok for r in results] == [False, True, False, False]
    assert results[1].attributes.category == "hoodie" and results[1].source == "rules"
    assert results[0].attributes is None and results[2].error.startswith("text too long: 150 characters")
    assert "article A3 skipped" in caplog.text


class Exploding:
    def extract(self, text: str) -> Extraction:
        if "boom" in text:
            raise RuntimeError("boom")
        return RuleExtractor().extract(text)


def test_an_extractor_failure_is_a_row_error():
    results = extract_rows([ArticleRow("A1", "boom"), ArticleRow("A2", GOOD)], Exploding(), max_chars=2000)
    assert results[0].error == "extraction failed: RuntimeError: boom"
    assert results[1].ok


def test_xlsx_with_bad_rows(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Article_ID", "Beschreibung"])
    for row in (["A1", GOOD], ["A2", None], [None, GOOD], [None, None], ["A5", "z" * 3000], ["A6", 42]):
        sheet.append(row)
    path = tmp_path / "articles.xlsx"
    workbook.save(path)
    rows = read_articles(path)
    assert [r.article_id for r in rows] == ["A1", "A2", "row-4", "A5", "A6"]  # the blank line is skipped
    results = extract_rows(rows, RuleExtractor(), max_chars=2000)
    assert [r.ok for r in results] == [True, False, True, False, False]


def test_csv_and_sheet_errors(tmp_path):
    path = tmp_path / "articles.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["description"], [GOOD], [""]])
    assert [(r.article_id, r.text) for r in read_articles(path)] == [("row-2", GOOD)]
    (tmp_path / "nodesc.csv").write_text("article_id,price\nA1,9.99\n", encoding="utf-8")
    with pytest.raises(SheetError, match="no description column"):
        read_articles(tmp_path / "nodesc.csv")
    with pytest.raises(SheetError, match="unsupported sheet format"):
        read_articles(tmp_path / "articles.ods")
