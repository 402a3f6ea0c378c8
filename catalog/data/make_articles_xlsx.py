"""Writes catalog/data/articles.xlsx: the German texts of the first 30 labelled articles (A001-A030).

    python -m catalog.data.make_articles_xlsx

Byte-stable: openpyxl stamps the save time into docProps/core.xml and every zip entry, so both are rewritten
with a fixed date; a rebuild shows no diff.
"""

from __future__ import annotations

import datetime
import io
import logging
import re
import zipfile
from pathlib import Path

from openpyxl import Workbook

from catalog.evaluate import load_labelled

log = logging.getLogger(__name__)

XLSX = Path(__file__).parent / "articles.xlsx"
ROWS = 30
_FIXED_DATE = datetime.datetime(2025, 1, 1)
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def write_articles_xlsx(path: Path = XLSX, rows: int = ROWS) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Artikel"
    sheet.append(["article_id", "beschreibung"])
    for article in load_labelled()[:rows]:
        sheet.append([article.id, article.de])
    sheet.column_dimensions["A"].width = 12
    sheet.column_dimensions["B"].width = 120
    workbook.properties.creator = "imagery-serving"
    workbook.properties.created = _FIXED_DATE
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(_fixed_dates(buffer.getvalue()))
    return path


def _fixed_dates(xlsx: bytes) -> bytes:
    stamp = _FIXED_DATE.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "docProps/core.xml":
                data = _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>", data)
            target.writestr(zipfile.ZipInfo(info.filename, date_time=_FIXED_DATE.timetuple()[:6]), data,
                            compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    log.info("wrote %s", write_articles_xlsx())
