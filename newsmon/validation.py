"""pydantic's validation errors in the user's terms: which field of their file, what is wrong with it, and for a
misspelled name the likely one. No internal class names, no links to pydantic's docs."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from pydantic import ValidationError

__all__ = ["plain_validation"]


def _where(location: tuple[int | str, ...]) -> str:
    """``('topics', 0, 'name')`` as ``topics #1 name``: positions counted from 1, as people count."""
    return " ".join(f"#{part + 1}" if isinstance(part, int) else str(part) for part in location) or "the file"


def plain_validation(exc: ValidationError, known: Iterable[str] = ()) -> str:
    """One indented line per problem. ``known`` are the accepted field names, to suggest one for a misspelling."""
    names = list(known)
    lines = []
    for error in exc.errors():
        location, kind = tuple(error["loc"]), error["type"]
        if kind == "missing":
            what = "missing (it is required)"
        elif kind == "extra_forbidden":
            close = difflib.get_close_matches(str(location[-1]), names, n=1) if location else []
            what = "not a known field" + (f" (did you mean '{close[0]}'?)" if close else "")
        else:
            what = f"{error['msg']} (got {str(error.get('input'))[:80]!r})"
        lines.append(f"  {_where(location)}: {what}")
    return "\n".join(lines)
