"""newsmon: watch news feeds for stories about your seed articles' topics and stream the matches to Kafka.

The data path (DESIGN.md): fetch → parse → normalise → dedupe → embed → match → publish → mark published.
This package holds the core: config, feeds, stories, state, messages, Kafka I/O and the CLI.
"""

from newsmon.config import FeedConfig, Settings, load_settings
from newsmon.errors import ConfigError, DeliveryError, FeedError, LocalKafkaError, NewsmonError
from newsmon.story import Story, canonical_url, story_id

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DeliveryError",
    "FeedConfig",
    "FeedError",
    "LocalKafkaError",
    "NewsmonError",
    "Settings",
    "Story",
    "__version__",
    "canonical_url",
    "load_settings",
    "story_id",
]
