"""The errors newsmon raises, as one small tree.

    NewsmonError               anything newsmon itself reports; the CLI turns it into exit code 1
    ├── ConfigError            a setting, config file, seed or topics file is wrong
    ├── FeedError              one feed could not be fetched or parsed (recorded in feed health)
    ├── DeliveryError          Kafka did not acknowledge a message (it stays in the outbox)
    └── LocalKafkaError        the local Apache Kafka could not be prepared, started or stopped

``plain_validation`` words a pydantic validation error (a config, feeds or topics file) in the user's terms.

Third-party errors are mapped at the boundary (``raise FeedError(...) from exc``) so callers never need to
know which HTTP or Kafka client sits underneath.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = [
    "ConfigError",
    "DeliveryError",
    "FeedError",
    "KafkaUnreachableError",
    "LocalKafkaError",
    "NewsmonError",
    "plain_validation",
]


class NewsmonError(Exception):
    """Base of every error newsmon reports to a user; its message says what to do."""


class ConfigError(NewsmonError):
    """A setting, config file, seed article or topics file is invalid."""


class FeedError(NewsmonError):
    """One feed failed; ``kind`` is a short stable key (timeout, too_large, http_status, parse, ...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    def __reduce__(self) -> tuple[type[FeedError], tuple[str, str]]:
        """Picklable, so a parse worker process can hand it back."""
        return type(self), (self.kind, str(self))


class DeliveryError(NewsmonError):
    """Kafka did not acknowledge a message in time; the message stays in the outbox for the next cycle."""


class KafkaUnreachableError(NewsmonError):
    """No broker answers at the configured address: a consumer cannot start."""


class LocalKafkaError(NewsmonError):
    """The local Apache Kafka broker could not be resolved, formatted, started or stopped."""


def _where(location: tuple[int | str, ...]) -> str:
    """``('topics', 0, 'name')`` as ``topics #1 name``: positions counted from 1, as people count."""
    return " ".join(f"#{part + 1}" if isinstance(part, int) else str(part) for part in location) or "the file"


def plain_validation(exc: Any, known: Iterable[str] = ()) -> str:
    """A pydantic ``ValidationError`` in the user's terms, one indented line per problem: which field of their
    file, what is wrong with it, and for a misspelled name the likely one (``known``: the accepted names). No
    internal class names, no links to pydantic's docs. Duck-typed (``exc.errors()``), so this module needs no
    pydantic."""
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
