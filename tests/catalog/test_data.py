"""The shipped 30-row sheet holds the German texts of the first 30 labelled articles."""

from __future__ import annotations

from catalog.data.make_articles_xlsx import ROWS, XLSX, write_articles_xlsx
from catalog.evaluate import load_labelled
from catalog.sheet import read_articles


def test_shipped_sheet_matches_the_labelled_set():
    rows = read_articles(XLSX)
    assert len(rows) == ROWS == 30
    expected = [(a.id, a.de) for a in load_labelled()[:ROWS]]
    assert [(r.article_id, r.text) for r in rows] == expected


def test_rebuild_is_stable(tmp_path):
    first = write_articles_xlsx(tmp_path / "a.xlsx").read_bytes()
    second = write_articles_xlsx(tmp_path / "b.xlsx").read_bytes()
    assert first == second
    assert [(r.article_id, r.text) for r in read_articles(tmp_path / "a.xlsx")] == \
        [(r.article_id, r.text) for r in read_articles(XLSX)]
