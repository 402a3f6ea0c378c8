"""Precision and recall per attribute of an extractor on the hand-labelled set.

    python -m catalog.evaluate              # the rule-based extractor on both labelled sets (English texts)
    python -m catalog.evaluate --errors     # also every disagreement, article by article
    CATALOG_LLM_URL=http://127.0.0.1:8000/v1 python -m catalog.evaluate --llm   # the chat extractor instead

Two sets: the development set (articles_labelled.json, 70 texts the vocabulary was written beside: in-sample) and
the held-out set (articles_heldout.json, 40 texts written after the extractor was frozen): quote the held-out table.

Single-valued attributes: a prediction is a non-empty value; it is correct when it equals the label.
List attributes (colours, motifs, details, materials as name+percent pairs): micro-averaged over items.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from catalog.attributes import AttributeExtractor, Attributes, RuleExtractor
from catalog.llm_attributes import make_extractor
from catalog.settings import CatalogSettings

DATA = Path(__file__).parent / "data"
LABELLED_SET = DATA / "articles_labelled.json"
HELD_OUT_SET = DATA / "articles_heldout.json"
SCALAR_FIELDS = ("category", "target_group", "pattern", "lettering", "fit", "sleeve_length", "fabric")
LIST_FIELDS = ("colours", "materials", "motifs", "details")
FIELDS = ("category", "target_group", "colours", "materials", "pattern", "motifs", "details", "lettering", "fit",
          "sleeve_length", "fabric")


@dataclass(frozen=True)
class LabelledArticle:
    id: str
    de: str
    en: str
    labels: Attributes


def load_labelled(path: Path = LABELLED_SET) -> list[LabelledArticle]:
    articles = json.loads(path.read_text(encoding="utf-8"))["articles"]
    return [LabelledArticle(a["id"], a["de"], a["en"], Attributes.model_validate(a["labels"])) for a in articles]


@dataclass
class Score:
    true_positives: int = 0
    predicted: int = 0
    labelled: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.labelled if self.labelled else 1.0


def _items(attributes: Attributes, name: str) -> set[object]:
    value = getattr(attributes, name)
    if name == "materials":
        return {(m.name, m.percent) for m in value}
    if name in LIST_FIELDS:
        return set(value)
    return set() if value is None else {value}


def evaluate(extractor: AttributeExtractor, articles: list[LabelledArticle]) -> dict[str, Score]:
    scores = {name: Score() for name in FIELDS}
    for article in articles:
        predicted = extractor.extract(article.en).attributes
        for name, score in scores.items():
            want, got = _items(article.labels, name), _items(predicted, name)
            score.true_positives += len(want & got)
            score.predicted += len(got)
            score.labelled += len(want)
            if want != got:
                score.errors.append(f"{article.id} {name}: labelled {sorted(want, key=str)}, "
                                    f"extracted {sorted(got, key=str)}")
    return scores


def table(scores: dict[str, Score]) -> str:
    lines = ["| attribute | precision | recall | correct | extracted | labelled |", "|---|---:|---:|---:|---:|---:|"]
    for name, s in scores.items():
        lines.append(f"| {name} | {s.precision:.2f} | {s.recall:.2f} | {s.true_positives} | {s.predicted} | "
                     f"{s.labelled} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m catalog.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--labelled", type=Path, action="append",
                        help="a labelled set (repeatable; default: the development and held-out sets)")
    parser.add_argument("--errors", action="store_true", help="list every disagreement")
    parser.add_argument("--llm", action="store_true",
                        help="evaluate the chat extractor of CATALOG_LLM_URL (with its fallback) instead of the rules")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = CatalogSettings()
    if args.llm and not settings.llm_url:
        parser.error("--llm needs CATALOG_LLM_URL")
    extractor = make_extractor(settings) if args.llm else RuleExtractor()
    name = f"Chat extractor ({settings.llm_url})" if args.llm else "Rule-based extractor"
    # The report is this command's output (stdout), not a log line.
    for path in args.labelled or [LABELLED_SET, HELD_OUT_SET]:
        articles = load_labelled(path)
        scores = evaluate(extractor, articles)
        print(f"\n{name}, {path.name}: {len(articles)} articles (English texts)\n")
        print(table(scores))
        if args.errors:
            print("\n" + "\n".join(error for score in scores.values() for error in score.errors))


if __name__ == "__main__":
    main()
