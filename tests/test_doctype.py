"""Defusing DOCTYPEs: attacks lose their entities, harmless declarations survive, other documents are untouched."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmon.doctype import defuse_doctype
from newsmon.errors import FeedError

BODY = b'<rss version="2.0"><channel><title>a &x; b</title></channel></rss>'
_ENTITY_DECL = re.compile(rb"<!ENTITY\s+\S+\s+([\"'])(.*?)\1", re.DOTALL)


def test_nested_external_and_parameter_entities_are_dropped_plain_ones_kept() -> None:
    doc = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "lol"><!ENTITY b "&a;&a;"><!ENTITY nbsp "&#160;">'
        b'<!ENTITY ext SYSTEM "file:///etc/passwd"><!ENTITY % p "x"><!-- a comment with a quote \' -->]>' + BODY
    )
    out = defuse_doctype(doc)
    assert out == b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "lol"><!ENTITY nbsp "&#160;">]>' + BODY


def test_a_doctype_with_nothing_safe_is_removed_and_the_rest_kept_byte_for_byte() -> None:
    assert defuse_doctype(b'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "http://evil/x.dtd">\n' + BODY) == (
        b'<?xml version="1.0"?>\n\n' + BODY
    )


def test_a_comment_cannot_hide_a_doctype_and_a_second_one_is_defused_too() -> None:
    doc = b'<!-- <a --><!DOCTYPE rss [<!ENTITY b "&b;">]><!DOCTYPE rss [<!ENTITY c "&b;&b;">]>' + BODY
    assert defuse_doctype(doc) == b"<!-- <a -->" + BODY


def test_wide_encodings_declaring_entities_are_refused_others_pass() -> None:
    wide = '\ufeff<!DOCTYPE rss [<!ENTITY a "x">]><rss/>'.encode("utf-16-le")
    with pytest.raises(FeedError, match="UTF-16/32"):
        defuse_doctype(wide)
    plain = "\ufeff<rss><channel/></rss>".encode("utf-16-be")
    assert defuse_doctype(plain) == plain


@given(st.binary(max_size=300).filter(lambda b: b"doctype" not in b.lower() and b"E\x00N\x00T" not in b))
def test_documents_without_a_doctype_are_returned_unchanged(body: bytes) -> None:
    assert defuse_doctype(body) == body


_values = st.text(st.sampled_from(list("ab&;%#x1'\" ")), max_size=12)


@given(st.lists(st.tuples(st.from_regex(r"[a-z]{1,5}", fullmatch=True), _values), max_size=6), st.booleans())
def test_no_entity_that_references_another_survives_and_defusing_is_idempotent(
    entities: list[tuple[str, str]], extra_doctype: bool
) -> None:
    subset = "".join(f'<!ENTITY {name} "{value.replace(chr(34), "")}">' for name, value in entities)
    doc = f"<!DOCTYPE rss [{subset}]>".encode() + (b"<!DOCTYPE x [<!ENTITY y '&z;'>]>" if extra_doctype else b"") + BODY
    out = defuse_doctype(doc)
    for _quote, value in _ENTITY_DECL.findall(out):
        assert b"%" not in value and (b"&" not in value or re.fullmatch(rb"&#x?[0-9A-Fa-f]+;", value))
    assert defuse_doctype(out) == out
    assert out.endswith(BODY)
