"""Texts longer than the model's source length are split into sentences (then words), and rejoined."""

from __future__ import annotations

from serving.translation.segments import join_translations, split_text


def fits_in(words: int):
    return lambda text: len(text.split()) <= words


def test_a_text_that_fits_stays_whole():
    text = "Ein Kleid aus Baumwolle. Farbe: Blau."
    assert split_text(text, fits_in(10)) == [text]


def test_a_long_text_splits_at_sentence_ends():
    text = "Ein Kleid aus Baumwolle. Mit Knöpfen! Ist es rot? Farbe: Blau."
    assert split_text(text, fits_in(4)) == ["Ein Kleid aus Baumwolle.", "Mit Knöpfen!", "Ist es rot?", "Farbe:",
                                            "Blau."]


def test_a_sentence_too_long_is_cut_between_words():
    text = "eins zwei drei vier fünf sechs sieben. Acht."
    assert split_text(text, fits_in(3)) == ["eins zwei drei", "vier fünf sechs", "sieben.", "Acht."]


def test_translations_are_joined_with_single_spaces_and_empty_ones_dropped():
    assert join_translations([" A dress. ", "", "With buttons."]) == "A dress. With buttons."
