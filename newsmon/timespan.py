"""Points in time as people type them on the command line: ``7d``, ``36h``, ``90m``, ``2w`` ago, or a date.

One parser for every ``--since``, so each accepts the same spellings and refuses the same mistakes with the
same message.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["parse_since"]

_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """The moment ``text`` names, as timezone-aware UTC: a span before ``now`` (``7d``, ``36h``, ``1.5d``,
    ``90m``, ``2w``, ``30s``) or an ISO 8601 date or time (``2026-11-20``, ``2026-11-20T08:00``, with an
    offset or ``Z``; without one it is UTC). ValueError, saying what is accepted, for anything else or for a
    moment after ``now``."""
    ago = _AGO.match(text)
    if ago:
        amount, unit = float(ago.group(1)), ago.group(2).lower()
        return now.astimezone(UTC) - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: give a span back from now (7d, 36h, 90m, 2w) or a date (2026-11-20, "
            "2026-11-20T08:00Z)"
        ) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment > now:
        raise ValueError(f"{text!r} is in the future")
    return moment
