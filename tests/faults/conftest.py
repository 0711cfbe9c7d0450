"""A real 3-node Apache Kafka cluster (KRaft, every node broker and controller) on loopback for the fault tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from newsmon.dev.local_kafka import LocalKafka

from ..conftest import free_port, kafka_cache_dir


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    kafka = LocalKafka(tmp_path_factory.mktemp("cluster"), kafka_cache_dir(), port=free_port(pairs=3), nodes=3)
    try:
        kafka.start(timeout=240)
        yield kafka
    finally:  # also when start-up failed half-way: no node outlives the session
        kafka.stop(kill=True)
