"""Small catalog job inputs for the tests: English article texts (translation off until `translate` is served)
or the German ones, plus rows that must become row errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

DATA = Path(__file__).parents[2] / "catalog" / "data"
ARTICLES_XLSX = DATA / "articles.xlsx"
# Fast generation for tests: 64 px, few steps.
FAST = ["--height", "64", "--width", "64"]


def labelled(count: int) -> list[dict]:
    return json.loads((DATA / "articles_labelled.json").read_text(encoding="utf-8"))["articles"][:count]


def write_csv(path: Path, count: int, language: str = "de", bad_rows: bool = True) -> Path:
    """`count` articles; with `bad_rows`, one empty description and one over 2000 characters after them."""
    rows = [[item["id"], item[language]] for item in labelled(count)]
    if bad_rows:
        rows += [["EMPTY", ""], ["LONG", "Sehr langes Kleid. " * 200]]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["article_id", "beschreibung"])
        writer.writerows(rows)
    return path
