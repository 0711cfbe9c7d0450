"""Outbox delivery against a real Apache Kafka broker, and the local broker's lifecycle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from newsmon.dev.local_kafka import LocalKafka
from newsmon.kafka_io import ensure_topics
from newsmon.messages import OutboxMessage
from newsmon.pipeline import deliver
from newsmon.store import SQLiteStore

from ..conftest import free_port, kafka_cache_dir
from ..kafka_records import read_records

pytestmark = pytest.mark.integration


def _messages(topic: str, n: int) -> list[OutboxMessage]:
    return [
        OutboxMessage(
            message_id=f"{i:032x}:s",
            key=f"{i:032x}",
            topic=topic,
            value=json.dumps({"n": i}).encode(),
            headers=(("schema", b"newsmon.match/1"),),
        )
        for i in range(n)
    ]


def _read_all(bootstrap: str, topic: str, idle: float = 4.0) -> list[Any]:
    return read_records(bootstrap, topic, idle)


def test_outbox_is_delivered_once_with_keys_and_headers(
    kafka_broker: LocalKafka, settings_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    topic = f"matches-{uuid.uuid4().hex[:6]}"
    settings = settings_factory(kafka_bootstrap=kafka_broker.bootstrap, topic_matches=topic)
    store = SQLiteStore(settings.state_db)
    store.queue(_messages(topic, 25))
    report = deliver(store, settings)
    assert (report.sent, report.failed) == (25, 0) and store.outbox_counts() == (25, 0)
    assert deliver(store, settings).sent == 0  # nothing is sent twice
    records = _read_all(kafka_broker.bootstrap, topic)
    assert sorted(r.key.decode() for r in records) == [f"{i:032x}" for i in range(25)]
    assert all(r.headers == [("schema", b"newsmon.match/1")] for r in records)


def test_a_broker_outage_keeps_matches_in_the_outbox_until_it_returns(
    kafka_broker: LocalKafka, settings_factory
) -> None:  # type: ignore[no-untyped-def]
    topic = f"matches-{uuid.uuid4().hex[:6]}"
    down = settings_factory(kafka_bootstrap=f"127.0.0.1:{free_port()}", topic_matches=topic, delivery_timeout_seconds=3)
    store = SQLiteStore(down.state_db)
    store.queue(_messages(topic, 5))
    report = deliver(store, down)
    assert report.sent == 0 and report.failed == 5 and report.error
    assert store.outbox_counts() == (0, 5)
    up = settings_factory(kafka_bootstrap=kafka_broker.bootstrap, topic_matches=topic)
    assert deliver(SQLiteStore(up.state_db), up).sent == 5
    assert len(_read_all(kafka_broker.bootstrap, topic)) == 5


def test_cli_starts_stops_and_restarts_a_local_broker_whose_data_survives(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "NEWSMON_DATA_DIR": str(tmp_path / "data"),
        "NEWSMON_CACHE_DIR": str(kafka_cache_dir()),
        "NEWSMON_KAFKA_LOCAL_PORT": str(free_port()),
    }

    def newsmon(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "newsmon", *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )

    assert newsmon("kafka", "status").returncode == 3
    started = newsmon("kafka", "start")
    assert started.returncode == 0, started.stderr
    try:
        bootstrap = f"127.0.0.1:{env['NEWSMON_KAFKA_LOCAL_PORT']}"
        assert "running" in newsmon("kafka", "status").stdout
        store = SQLiteStore(tmp_path / "s.db")
        store.queue(_messages("kept", 3))
        from newsmon.config import load_settings

        settings = load_settings(data_dir=tmp_path / "data", kafka_bootstrap=bootstrap, topic_matches="kept")
        ensure_topics(bootstrap, settings)
        assert deliver(store, settings).sent == 3
        assert newsmon("kafka", "stop").returncode == 0
        assert newsmon("kafka", "status").returncode == 3
        assert newsmon("kafka", "start").returncode == 0
        assert len(_read_all(bootstrap, "kept")) == 3
    finally:
        newsmon("kafka", "stop")
