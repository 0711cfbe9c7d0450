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

from newsmon import kafka_io
from newsmon.dev.local_kafka import LocalKafka
from newsmon.kafka_io import PRODUCERS, ensure_topics
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


def test_cycles_of_a_long_running_process_deliver_through_one_producer(
    kafka_broker: LocalKafka, settings_factory, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    topic = f"matches-{uuid.uuid4().hex[:6]}"
    settings = settings_factory(kafka_bootstrap=kafka_broker.bootstrap, topic_matches=topic)
    store = SQLiteStore(settings.state_db)
    made = _count_producers(monkeypatch)
    for cycle in (1, 2, 3):
        store.queue(_renamed(_messages(topic, 4), cycle))
        assert deliver(store, settings).sent == 4
    assert len(made) == 1  # a fresh producer per cycle waited for metadata and a producer id each time
    assert len(_read_all(kafka_broker.bootstrap, topic)) == 12


def test_a_broker_outage_retires_the_kept_producer_and_loses_nothing(
    settings_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A producer kept through an outage would wait out kafka-python's reconnect backoff once the broker is
    back; the first delivery that finds the broker unreachable closes it, and the next one starts afresh."""
    broker = LocalKafka(tmp_path / "kafka", kafka_cache_dir(), port=free_port())
    broker.start(timeout=180)
    try:
        topic = f"matches-{uuid.uuid4().hex[:6]}"
        settings = settings_factory(kafka_bootstrap=broker.bootstrap, topic_matches=topic, delivery_timeout_seconds=10)
        store = SQLiteStore(settings.state_db)
        made = _count_producers(monkeypatch)
        store.queue(_messages(topic, 3))
        assert deliver(store, settings).sent == 3  # its producer is kept for the next cycle
        broker.stop()
        store.queue(_renamed(_messages(topic, 3), 1))
        down = deliver(store, settings)
        assert (down.sent, down.failed) == (0, 3) and store.outbox_counts() == (3, 3)
        broker.start(timeout=180)
        assert deliver(store, settings).sent == 3
        assert len(made) == 2 and made[0]._closed
        assert sorted(r.key.decode() for r in _read_all(broker.bootstrap, topic)) == sorted(
            m.key for m in [*_messages(topic, 3), *_renamed(_messages(topic, 3), 1)]
        )
    finally:
        PRODUCERS.clear()  # before its broker goes: an idle producer would keep asking it for metadata
        broker.stop()


def _renamed(messages: list[OutboxMessage], cycle: int) -> list[OutboxMessage]:
    """The same messages as other stories (another cycle's alerts)."""
    return [
        OutboxMessage(f"{cycle}{m.message_id[1:]}", f"{cycle}{m.key[1:]}", m.topic, m.value, m.headers)
        for m in messages
    ]


def _count_producers(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every producer delivery makes from now on (the shelf starts empty)."""
    made: list[object] = []
    real = kafka_io.make_producer

    def counting(*args: Any, **kwargs: Any) -> object:
        made.append(real(*args, **kwargs))
        return made[-1]

    PRODUCERS.clear()
    monkeypatch.setattr(kafka_io, "make_producer", counting)
    return made


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
