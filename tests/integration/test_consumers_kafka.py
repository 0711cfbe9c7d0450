"""The consumers suite against a real broker: `newsmon consume NAME` as a user runs it.

Poison records go to the DLQ with their reason; a redelivered alert (the same message id published twice, or
the same record again after a restart) reaches the downstream effect once; SIGTERM stops a consumer cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consumers.archive import Archive
from newsmon.dev.local_kafka import LocalKafka

from ..alerts import alert
from ..kafka_records import read_records
from ..webhook_receiver import Receiver, webhook_receiver

pytestmark = pytest.mark.integration


def _publish(bootstrap: str, topic: str, values: list[bytes]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    try:
        for value in values:
            producer.send(topic, key=b"k", value=value).get(timeout=30)
    finally:
        producer.close(timeout=5)


def _encoded(n: int) -> bytes:
    return alert(n).encode()


@pytest.fixture
def env(kafka_broker: LocalKafka, tmp_path: Path) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    return {
        **os.environ,
        "NEWSMON_KAFKA_BOOTSTRAP": kafka_broker.bootstrap,
        "NEWSMON_DATA_DIR": str(tmp_path / "data"),
        "NEWSMON_TOPIC_MATCHES": f"matches-{suffix}",
        "NEWSMON_TOPIC_DLQ": f"dlq-{suffix}",
    }


def _consume(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "newsmon", "consume", *args, "--idle-timeout", "4"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr
    return result


def test_archive_dead_letters_poison_and_stores_each_alert_once(env: dict[str, str]) -> None:
    topic, dlq = env["NEWSMON_TOPIC_MATCHES"], env["NEWSMON_TOPIC_DLQ"]
    poison = [b"not json", json.dumps({"schema": "newsmon.match/1"}).encode()]
    _publish(env["NEWSMON_KAFKA_BOOTSTRAP"], topic, [_encoded(n) for n in range(20)] + poison + [_encoded(3)])
    _consume(env, "archive")
    archive = Archive(Path(env["NEWSMON_DATA_DIR"]) / "alerts.sqlite3")
    assert archive.count() == 20
    dead = read_records(env["NEWSMON_KAFKA_BOOTSTRAP"], dlq)
    assert sorted(r.value for r in dead) == sorted(poison)
    reasons = [dict(r.headers)["reason"].decode() for r in dead]
    assert any(r.startswith("not JSON") for r in reasons) and any("newsmon.match/1" in r for r in reasons)
    assert all(dict(r.headers)["source"].decode().startswith(f"{topic}/") for r in dead)
    query = subprocess.run(
        [sys.executable, "-m", "newsmon", "archive", "query", "--text", "number 7", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert [json.loads(line)["title"] for line in query.stdout.splitlines()] == ["Headline number 7"]


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    with webhook_receiver() as found:
        yield found


def test_webhook_posts_each_alert_once_across_restarts_and_redeliveries(env: dict[str, str], receiver: Any) -> None:
    url, handler = receiver
    bootstrap, topic = env["NEWSMON_KAFKA_BOOTSTRAP"], env["NEWSMON_TOPIC_MATCHES"]
    _publish(bootstrap, topic, [_encoded(n) for n in range(10)] + [_encoded(4)])
    _consume(env, "webhook", url, "--rate", "100", "--from-beginning")
    _publish(bootstrap, topic, [_encoded(2), _encoded(10)])  # a redelivered alert after a restart, and a new one
    _consume(env, "webhook", url, "--rate", "100", "--from-beginning")
    assert sorted(handler.keys()) == sorted(alert(n).message_id for n in range(11))


def test_digest_consumer_writes_the_days_digest(env: dict[str, str]) -> None:
    _publish(env["NEWSMON_KAFKA_BOOTSTRAP"], env["NEWSMON_TOPIC_MATCHES"], [_encoded(n) for n in range(5)])
    _consume(env, "digest", "--folder", str(Path(env["NEWSMON_DATA_DIR"]) / "digests"))
    text = (Path(env["NEWSMON_DATA_DIR"]) / "digests" / "digest-2026-03-05.md").read_text()
    assert "5 alert(s)." in text and all(f"Headline number {n}]" in text for n in range(5))


def test_sigterm_stops_a_consumer_after_the_record_in_hand(env: dict[str, str]) -> None:
    _publish(env["NEWSMON_KAFKA_BOOTSTRAP"], env["NEWSMON_TOPIC_MATCHES"], [_encoded(n) for n in range(3)])
    process = subprocess.Popen(
        [sys.executable, "-m", "newsmon", "consume", "archive"], env=env, stderr=subprocess.PIPE, text=True
    )
    archive_file = Path(env["NEWSMON_DATA_DIR"]) / "alerts.sqlite3"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (archive_file.exists() and Archive(archive_file).count() == 3):
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert Archive(archive_file).count() == 3 and "3 alert(s) handled" in stderr
