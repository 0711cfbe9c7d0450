"""Local Kafka preparation: node layout and clear errors when Java or Maven is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsmon.dev.local_kafka import LocalKafka
from newsmon.errors import LocalKafkaError


def test_nodes_get_distinct_port_pairs_and_share_one_quorum(tmp_path: Path) -> None:
    cluster = LocalKafka(tmp_path, tmp_path / "cache", port=30000, nodes=3)
    assert cluster.bootstrap == "127.0.0.1:30000,127.0.0.1:30002,127.0.0.1:30004"
    cluster._write_properties(cluster.nodes[1])
    text = cluster.nodes[1].properties.read_text()
    assert "node.id=2\n" in text and "controller.quorum.voters=1@127.0.0.1:30001,2@127.0.0.1:30003,3@" in text
    assert "offsets.topic.replication.factor=3" in text


def test_missing_java_is_a_clear_error(tmp_path: Path) -> None:
    broker = LocalKafka(tmp_path, tmp_path, java_home=tmp_path / "no-jdk")
    with pytest.raises(LocalKafkaError, match="Java 17"):
        broker.java()


def test_missing_maven_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalKafkaError, match="mvn"):
        LocalKafka(tmp_path, tmp_path / "cache").ensure_jars()


def test_status_of_a_never_started_broker_is_stopped(tmp_path: Path) -> None:
    assert [n.running for n in LocalKafka(tmp_path, tmp_path).status()] == [False]
