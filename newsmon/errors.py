"""The errors newsmon raises, as one small tree.

    NewsmonError               anything newsmon itself reports; the CLI turns it into exit code 1
    ├── ConfigError            a setting, config file, seed or topics file is wrong
    ├── FeedError              one feed could not be fetched or parsed (recorded in feed health)
    ├── DeliveryError          Kafka did not acknowledge a message (it stays in the outbox)
    └── LocalKafkaError        the local Apache Kafka could not be prepared, started or stopped

Third-party errors are mapped at the boundary (``raise FeedError(...) from exc``) so callers never need to
know which HTTP or Kafka client sits underneath.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DeliveryError", "FeedError", "KafkaUnreachableError", "LocalKafkaError", "NewsmonError"]


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
