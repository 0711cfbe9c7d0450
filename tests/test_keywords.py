"""Keyword spotting: whole words, any case, and a fast path that never changes the answer."""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from models.sentences import ASCII_TWINS, _keyword_pattern, keyword_hits


def test_the_ascii_twins_are_exactly_what_the_regex_engine_equates_with_ascii_letters() -> None:
    """Recomputed over every code point, so a Python whose case tables grow fails here, not in a missed alert."""
    letters = re.compile(r"[a-z]", re.IGNORECASE)
    found = {}
    for point in range(0x80, sys.maxunicode + 1):
        char = chr(point)
        if not 0xD800 <= point < 0xE000 and letters.fullmatch(char):
            found[char] = next(c for c in "abcdefghijklmnopqrstuvwxyz" if re.fullmatch(c, char, re.IGNORECASE))
    assert found == ASCII_TWINS


def test_keywords_match_whole_words_in_any_case_in_the_keywords_order() -> None:
    text = "SK HYNIX and Samsung: HBM-led boom; 5G-ready chips, \u017famsung"
    keywords = ("Samsung", "SK Hynix", "Hynix", "HBM", "5G", "chip", "boom", "Micron")
    assert keyword_hits(text, keywords) == ("Samsung", "SK Hynix", "Hynix", "boom")  # HBM-led, 5G-ready: joined


TRICKY = "\u0130\u0131\u017f\u212akKsSiI\u00df-_ .\u2019"
texts = st.text(st.one_of(st.sampled_from(TRICKY), st.characters(codec="utf-8", exclude_categories=("Cs",))))
keywords = st.lists(st.text(st.sampled_from(TRICKY + "abHynix5G"), min_size=1, max_size=5), min_size=1, max_size=6)


def _spellings(char: str) -> list[str]:
    """Ways a text may spell ``char`` that a case-insensitive match accepts."""
    return sorted({char, char.upper(), char.lower(), *(t for t, a in ASCII_TWINS.items() if a == char.lower())})


@settings(max_examples=500)
@given(texts, keywords, st.data())
def test_the_fast_path_finds_exactly_what_the_whole_word_expression_finds(
    text: str, keywords: list[str], data: st.DataObject
) -> None:
    """Texts that spell a keyword in another case or with a twin letter, between arbitrary text."""
    spelled = "".join(data.draw(st.sampled_from(_spellings(c))) for c in keywords[0])
    text = data.draw(st.sampled_from([text, f"{text} {spelled} {text}", spelled]))
    assert keyword_hits(text, keywords) == tuple(k for k in keywords if _keyword_pattern(k).search(text))
