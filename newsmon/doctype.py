"""Defuse a feed's DOCTYPE before any XML parser sees it: no entity expansion attacks, no external DTDs.

expat stops a billion-laughs document only after several MiB of expansion, which feedparser holds as millions
of small Python strings (about 80 MB for one hostile item), and feedparser's own DOCTYPE filter only sees
``<!ENTITY`` at the start of a line. So the DOCTYPE is replaced here: only general entities whose value is
plain text or one character reference (``<!ENTITY nbsp "&#160;">``, the only kind real feeds declare) are
declared again; nested, parameter and external entities disappear, and their references stay unresolved.

A UTF-16/32 document is not ASCII-compatible, so the byte scan cannot see into it: such a document that
declares entities at all is refused.
"""

from __future__ import annotations

import re

from newsmon.errors import FeedError

__all__ = ["defuse_doctype"]

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_SAFE_ENTITY = re.compile(
    rb"""<!ENTITY\s+([A-Za-z_][\w.-]{0,63})\s+(["'])((?:&#x?[0-9A-Fa-f]{1,6};)|[^&%<"']{0,200})\2\s*>"""
)
_WIDE_STARTS = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\xfe\xff", b"\xff\xfe", b"\x00<", b"<\x00", b"\x00\x00")


def _declaration_end(body: bytes, start: int) -> int:
    """Index just past the ``>`` that closes the declaration opened at ``start``, honouring quotes, the
    internal subset's brackets and comments; the end of ``body`` if it never closes."""
    depth, i, quote = 0, start, 0
    while i < len(body):
        char = body[i]
        if quote:
            quote = 0 if char == quote else quote
        elif body.startswith(b"<!--", i):
            close = body.find(b"-->", i + 4)
            i = len(body) if close < 0 else close + 2
        elif char in b"\"'":
            quote = char
        elif char == ord("["):
            depth += 1
        elif char == ord("]"):
            depth = max(0, depth - 1)
        elif char == ord(">") and depth == 0:
            return i + 1
        i += 1
    return len(body)


def defuse_doctype(body: bytes) -> bytes:
    """``body`` with every DOCTYPE replaced by one that declares only self-contained entities (or removed).

    Every ``<!DOCTYPE`` counts, not just one in the prolog: a comment can hide where the prolog ends, and a
    second DOCTYPE is no safer than the first.
    """
    if body.startswith(_WIDE_STARTS):
        if b"E\x00N\x00T\x00I\x00T\x00Y" in body:
            raise FeedError("parse", "a UTF-16/32 document that declares XML entities is refused (entity attacks)")
        return body
    parts, position = [], 0
    for found in _DOCTYPE.finditer(body):
        if found.start() < position:
            continue  # inside a declaration already replaced
        end = _declaration_end(body, found.end())
        safe = [m.group(0) for m in _SAFE_ENTITY.finditer(body, found.end(), end)]
        root = re.match(rb"\s*([A-Za-z_][\w.:-]*)", body[found.end() : end])
        parts.append(body[position : found.start()])
        if safe:
            parts.append(b"<!DOCTYPE " + (root.group(1) if root else b"rss") + b" [" + b"".join(safe) + b"]>")
        position = end
    if not parts:
        return body
    return b"".join(parts) + body[position:]
