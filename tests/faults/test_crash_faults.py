"""SIGKILL at the exact steps where a crash could lose or double an alert, then restart and count.

Pipeline: after the seen-marks and outbox rows are committed (one transaction, so "after the seen-mark" and
"after the outbox insert" are the same instant), after the records were handed to the producer, and after the
broker acknowledged them but before the outbox marked them sent. Consumer: after the handler's effect but before
the handled log and the commit, and after the handled log but before the commit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumers.archive import Archive
from newsmon.feedserver import FeedServer
from newsmon.local_kafka import LocalKafka
from newsmon.pipeline import DEMO_FEEDS_DIR

from ..alerts import alert
from ..kafka_records import read_records
from ..webhook_receiver import Receiver, webhook_receiver

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def _newsmon(env: dict[str, str], *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run newsmon in its own session; after it ends, kill what it left behind (a SIGKILLed run orphans
    Prefect's temporary API server, which also holds its output pipes: hence files, not pipes)."""
    run_env = {**env, **({"NEWSMON_CRASH_AT": crash_at} if crash_at else {})}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "newsmon", *args], env=run_env, stdout=out, stderr=err, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=600)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(process.args, returncode, out.read(), err.read())


@pytest.fixture
def env(cluster: LocalKafka, tmp_path: Path) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    return {
        **os.environ,
        "NEWSMON_KAFKA_BOOTSTRAP": cluster.bootstrap,
        "NEWSMON_DATA_DIR": str(tmp_path / "data"),
        "NEWSMON_TOPIC_MATCHES": f"crash-matches-{suffix}",
        "NEWSMON_TOPIC_DLQ": f"crash-dlq-{suffix}",
        "NEWSMON_TOPIC_REPLICATION": "3",
        "NEWSMON_TOPIC_MIN_INSYNC_REPLICAS": "2",
        "PREFECT_HOME": str(tmp_path / "prefect"),
    }


@pytest.fixture(scope="module")
def feeds() -> Iterator[FeedServer]:
    server = FeedServer(DEMO_FEEDS_DIR).start()
    yield server
    server.stop()


@pytest.mark.parametrize("point", ["pipeline-recorded", "pipeline-sent", "pipeline-acked"])
def test_pipeline_sigkill_then_restart_delivers_each_match_once_after_dedup(
    point: str, env: dict[str, str], feeds: FeedServer, tmp_path: Path, report: Callable[[str], None]
) -> None:
    config = tmp_path / "newsmon.yaml"
    feed = "google-news-semiconductors-2026-03.xml"
    config.write_text(
        yaml.safe_dump({"feeds": [{"url": feeds.url(feed), "name": "march"}], "fetch_allow_networks": ["127.0.0.1/32"]})
    )
    crashed = _newsmon(env, "run", "--once", "--config", str(config), crash_at=point)
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    restarted = _newsmon(env, "run", "--once", "--config", str(config))
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert "0 new" in restarted.stdout + restarted.stderr  # the crashed cycle had recorded every story as seen
    raw = read_records(env["NEWSMON_KAFKA_BOOTSTRAP"], env["NEWSMON_TOPIC_MATCHES"], idle=5)
    archived = _newsmon(env, "consume", "archive", "--idle-timeout", "5")
    assert archived.returncode == 0, archived.stderr[-2000:]
    archive = Archive(Path(env["NEWSMON_DATA_DIR"]) / "alerts.sqlite3")
    distinct = {json.loads(r.value)["message_id"] for r in raw}
    report(
        f"[{point}] {len(raw)} records, {len(distinct)} distinct matches, raw duplicates {len(raw) - len(distinct)}, "
        f"after consumer de-dup {archive.count()}"
    )
    assert len(distinct) >= 3 and archive.count() == len(distinct)
    if point == "pipeline-recorded":
        assert len(raw) == len(distinct)  # nothing had been sent before the crash


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    with webhook_receiver() as found:
        yield found


def _publish(bootstrap: str, topic: str, count: int) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    try:
        for n in range(count):
            producer.send(topic, key=b"k", value=json.dumps(alert(n)).encode()).get(timeout=30)
    finally:
        producer.close(timeout=5)


@pytest.mark.parametrize("point", ["consumer-handled", "consumer-logged"])
def test_consumer_sigkill_before_commit_redelivers_and_the_effect_happens_once(
    point: str, env: dict[str, str], receiver: Any, report: Callable[[str], None]
) -> None:
    url, handler = receiver
    _publish(env["NEWSMON_KAFKA_BOOTSTRAP"], env["NEWSMON_TOPIC_MATCHES"], 5)
    data = Path(env["NEWSMON_DATA_DIR"])
    consumers = {
        "archive": ["archive", "--file", str(data / "alerts.sqlite3")],
        "digest": ["digest", "--folder", str(data / "digests")],
        "webhook": ["webhook", url, "--rate", "100", "--from-beginning"],
    }
    for name, args in consumers.items():
        crashed = _newsmon(env, "consume", *args, "--idle-timeout", "5", crash_at=point)
        assert crashed.returncode == -9, f"{name}: {crashed.stderr[-1500:]}"
        again = _newsmon(env, "consume", *args, "--idle-timeout", "5")
        assert again.returncode == 0, f"{name}: {again.stderr[-1500:]}"
    assert Archive(data / "alerts.sqlite3").count() == 5
    digest = (data / "digests" / "digest-2026-03-05.md").read_text()
    assert "5 alert(s)." in digest and all(digest.count(f"Headline number {n}]") == 1 for n in range(5))
    expected = sorted(alert(n)["message_id"] for n in range(5))
    assert sorted(set(handler.keys())) == expected  # once per alert, for a receiver honouring Idempotency-Key
    raw_repeats = len(handler.keys()) - len(expected)
    report(f"[{point}] webhook POSTs {len(handler.keys())} for 5 alerts (repeats {raw_repeats}, same Idempotency-Key)")
    assert raw_repeats == (1 if point == "consumer-handled" else 0)
