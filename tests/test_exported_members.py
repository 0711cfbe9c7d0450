"""The public surface is curated: every name in ``__all__`` exists, and nothing public is unlisted."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "newsmon",
    "newsmon.config",
    "newsmon.errors",
    "newsmon.story",
    "newsmon.normalise",
    "newsmon.parse",
    "newsmon.fetch",
    "newsmon.store",
    "newsmon.store.alerts",
    "newsmon.store.feeds",
    "newsmon.store.outbox",
    "newsmon.store.rows",
    "newsmon.store.postgres",
    "newsmon.store.scored",
    "newsmon.store.sql",
    "newsmon.store.sqlite",
    "newsmon.store.state",
    "newsmon.store.stories",
    "newsmon.polling",
    "newsmon.retry_after",
    "newsmon.review",
    "newsmon.messages",
    "newsmon.kafka_io",
    "newsmon.dev.local_kafka",
    "newsmon.pipeline",
    "newsmon.dev.feedserver",
    "newsmon.netguard",
    "newsmon.transport",
    "newsmon.decoding",
    "newsmon.doctype",
    "newsmon.parse_pool",
    "newsmon.language",
    "newsmon.feedlist",
    "models.encoder",
    "models.topics",
    "models.scoring",
    "models.seeding",
    "models.sentences",
    "models.evaluation",
    "models.relevance",
    "models.assessment",
    "models.duplicates",
    "consumers.sqlite",
    "newsmon.dev.faults",
    "consumers.archive",
    "consumers.webhook",
    "consumers.digest",
    "newsmon.cli",
    "newsmon.cli.common",
    "newsmon.cli.consume",
    "newsmon.cli.feeds",
    "newsmon.cli.kafka",
    "newsmon.cli.matching",
    "newsmon.cli.monitor",
    "newsmon.cli.review",
    "newsmon.cli.seeds",
    "newsmon.dev.demo",
    "newsmon.timespan",
    "flows.monitor",
    "flows.replay",
    "flows.serve",
    "consumers.loop",
    "consumers.tail",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert all(hasattr(module, n) for n in exported)
    defined_here = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", None) == name and callable(v)
    }
    assert defined_here <= exported, f"public but not in __all__: {defined_here - exported}"


def test_error_tree() -> None:
    from newsmon import ConfigError, DeliveryError, FeedError, LocalKafkaError, NewsmonError

    assert all(issubclass(e, NewsmonError) for e in (ConfigError, DeliveryError, FeedError, LocalKafkaError))
