"""Rule-based extractor on English text, and the Attributes schema."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from catalog.attributes import Attributes, Material, RuleExtractor

extract = RuleExtractor().extract


def test_seed_example_every_attribute():
    text = ("Children's girl's T-shirt with embroidery. The embroidered sleeves and the embroidery “Dream Journey” "
            "give the shirt a special touch. Color: Black. Material: 100% cotton.")
    extraction = extract(text)
    assert extraction.source == "rules" and extraction.note is None
    assert extraction.attributes == Attributes(
        category="t-shirt", target_group="girls", colours=["black"], materials=[Material(name="cotton", percent=100)],
        details=["embroidery", "lettering"], lettering="Dream Journey")


@pytest.mark.parametrize("text, category", [
    ("Girls jeans shorts with fringes.", "shorts"),  # compound: the last noun is the head
    ("Women's T-shirt dress in navy.", "dress"),
    ("Ladies bikini top with leopard pattern.", "bikini"),  # a listed phrase beats the compound rule
    ("Men's hooded sweater with kangaroo pocket.", "hoodie"),
    ("Baby body with push buttons.", "bodysuit"),
    ("With a zipper. Men's jacket in black.", "jacket"),  # no category in the title: the whole text
    ("A lovely gift for everyone.", None),
])
def test_category(text, category):
    assert extract(text).attributes.category == category


@pytest.mark.parametrize("text, group", [
    ("Baby girl dress with ruffles.", "baby"),  # baby wins over girl
    ("Children's girl's T-shirt.", "girls"),
    ("Women’s blouse in white.", "women"),  # typographic apostrophe
    ("Ladies top with straps.", "women"),
    ("Men's shirt.", "men"),
    ("Children's rain jacket.", None),
])
def test_target_group(text, group):
    assert extract(text).attributes.target_group == group


def test_colours_fold_onto_the_vocabulary_without_double_counting():
    attributes = extract("The dress in dark blue with off-white dots, old pink bow and a blue-grey belt.").attributes
    assert attributes.colours == ["navy", "cream", "dusky pink", "blue", "grey"]


@pytest.mark.parametrize("text, materials", [
    ("Material: 95% cotton, 5% elastane.", [("cotton", 95), ("elastane", 5)]),
    ("Material: cotton 95 %, elastane 5 %.", [("cotton", 95), ("elastane", 5)]),
    ("Upper material: 100% polyester, lining: 100% cotton.", [("polyester", 100), ("cotton", 100)]),
    ("Made of pure organic cotton.", [("cotton", None)]),
    ("Soft organic cotton. Material: 97,5% cotton, 2,5% elastane.", [("cotton", 97.5), ("elastane", 2.5)]),
    ("Material: 100% polyacrylic.", [("acrylic", 100)]),
])
def test_materials(text, materials):
    assert [(m.name, m.percent) for m in extract(text).attributes.materials] == materials


def test_details_distinguish_press_studs_from_buttons_and_belt_loops_from_belts():
    attributes = extract("The body has push buttons in the crotch. The trousers have belt loops and a button.")
    assert attributes.attributes.details == ["press studs", "buttons"]


def test_pattern_takes_the_highest_priority_one():
    assert extract("Striped T-shirt with dino front print.").attributes.pattern == "striped"
    assert extract("Sweater in melange look with a front print.").attributes.pattern == "print"
    assert extract("A floral embroidery at the neckline.").attributes.pattern is None


@pytest.mark.parametrize("text, fit, sleeves", [
    ("Men's jeans, slim fit.", "slim", None),
    ("Leggings with wide waistband.", None, None),  # a wide waistband is no fit
    ("Trousers with wide leg.", "wide", None),
    ("Dress with short wing sleeves.", None, "short"),
    ("Baby body, long arm.", None, "long"),
    ("Tunic with 3/4 sleeves.", None, "three-quarter"),
    ("Top with spaghetti straps.", None, "sleeveless"),
])
def test_fit_and_sleeves(text, fit, sleeves):
    attributes = extract(text).attributes
    assert (attributes.fit, attributes.sleeve_length) == (fit, sleeves)


def test_lettering_in_german_quotes_is_lettering():
    attributes = extract("Hoodie with „Game On“ on the chest.").attributes
    assert attributes.lettering == "Game On" and "lettering" in attributes.details


def test_schema_folds_synonyms_and_rejects_what_prompts_cannot_take():
    attributes = Attributes(category="T-Shirts", target_group="ladies", colours=["Navy Blue", "navy"],
                            materials=[{"name": "Nylon", "percent": 80}], sleeve_length="3/4 sleeves")
    assert (attributes.category, attributes.target_group, attributes.colours) == ("t-shirt", "women", ["navy"])
    assert attributes.materials[0].name == "polyamide" and attributes.sleeve_length == "three-quarter"
    assert Attributes(colours=None).colours == []  # an LLM's null for a list
    for bad in ({"target_group": "kids"}, {"lettering": "{article}"}, {"colors": ["red"]},
                {"materials": [{"name": "cotton", "percent": 120}]}, {"category": "x" * 41}):
        with pytest.raises(ValidationError):
            Attributes.model_validate(bad)
