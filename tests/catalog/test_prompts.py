"""Prompt building from attributes through the editable templates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from catalog.attributes import Attributes, Material
from catalog.prompts import PromptTemplates, TemplateError, build_prompts, placeholder_values
from catalog.settings import DEFAULT_TEMPLATES, CatalogSettings

DEFAULT = PromptTemplates.load(DEFAULT_TEMPLATES)
SHIRT = Attributes(category="t-shirt", target_group="boys", colours=["grey"], pattern="print", motifs=["dinosaur"],
                   materials=[Material(name="cotton", percent=60), Material(name="polyester", percent=40)],
                   details=["lettering", "cuffs"], lettering="Roar", sleeve_length="short")


def test_default_prompts():
    prompts = build_prompts(SHIRT, DEFAULT)
    assert prompts.generation == (
        "Professional product photography of a grey boys' T-shirt, dinosaur print, with cuffs, "
        "the lettering \"Roar\", 60% cotton and 40% polyester, short sleeves, placed on a clean white background, "
        "laid flat, studio lighting, 8k, 85mm lens f/2.8, no humans, no mannequins, perfectly centered")
    assert prompts.scoring == "Product image of a grey boys' T-shirt"
    assert prompts.negative.startswith("person, model, mannequin") and "#" not in prompts.negative


def test_nothing_known_leaves_no_dangling_commas():
    prompts = build_prompts(Attributes(), DEFAULT)
    assert prompts.scoring == "Product image of a garment"
    assert prompts.generation.startswith("Professional product photography of a garment, placed on")
    assert ", ," not in prompts.generation and "  " not in prompts.generation


@pytest.mark.parametrize("attributes, article", [
    (Attributes(category="jeans", target_group="men", colours=["black"]), "black men's jeans"),  # plural: no "a"
    (Attributes(category="dress", colours=["olive", "white"]), "an olive and white dress"),
    (Attributes(category="bodysuit", target_group="baby"), "a baby bodysuit"),
])
def test_article_phrase(attributes, article):
    assert placeholder_values(attributes)["article"] == article


def test_user_templates_from_settings(tmp_path, monkeypatch):
    folder = tmp_path / "my-templates"
    shutil.copytree(DEFAULT_TEMPLATES, folder)
    (folder / "scoring.txt").write_text("# mine\nA photo of {product} in {colours}, {fit}\n", encoding="utf-8")
    monkeypatch.setenv("CATALOG_TEMPLATES_DIR", str(folder))
    templates = PromptTemplates.load(CatalogSettings().templates_dir)
    assert build_prompts(SHIRT, templates).scoring == "A photo of boys' T-shirt in grey"


@pytest.mark.parametrize("content, message", [
    ("Photo of {article} in {colour}", "unknown placeholder(s) {colour}"),
    ("# only a comment\n", "is empty"),
    ("Photo of {article", "scoring.txt"),
])
def test_bad_template_names_file_and_problem(tmp_path, content, message):
    shutil.copytree(DEFAULT_TEMPLATES, tmp_path, dirs_exist_ok=True)
    (tmp_path / "scoring.txt").write_text(content, encoding="utf-8")
    with pytest.raises(TemplateError, match="scoring.txt") as info:
        PromptTemplates.load(tmp_path)
    assert message in str(info.value)


def test_missing_template_file(tmp_path):
    with pytest.raises(TemplateError, match="generation.txt"):
        PromptTemplates.load(Path(tmp_path))
