"""Kill newsmon at the exact steps where a failure could lose or double an alert, then restart and count.

Pipeline: after fetching, after parsing, after the intake (validators and pending stories, one transaction),
while embedding, inside the scoring transaction, after it commits (seen-marks and outbox rows together), after
the records were handed to the producer, and after the broker acknowledged them but before the outbox marked
them sent; by SIGKILL, and also by an exception, SIGINT and SIGTERM. Where the intake had committed, the feed
then drops every story (a fast-moving feed) before the restart: the stories must come from the state store.
Consumer: after the handler's effect but before the handled log and the commit, and after the handled log but
before the commit.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
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
from newsmon.config import PROJECT_ROOT, load_settings
from newsmon.dev.demo import DEMO_FEEDS_DIR
from newsmon.dev.feedserver import FeedServer
from newsmon.dev.local_kafka import LocalKafka
from newsmon.messages import match_schema_validator

from ..alerts import alert
from ..expected import expected_alerts, feed_stories
from ..kafka_records import read_records
from ..processes import leftovers
from ..webhook_receiver import Receiver, webhook_receiver

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def _newsmon(
    env: dict[str, str], *args: str, crash_at: str | None = None, how: str = "kill"
) -> subprocess.CompletedProcess[str]:
    """Run newsmon in its own session; after it ends, kill what it left behind (a SIGKILLed run orphans
    Prefect's temporary API server, which also holds its output pipes: hence files, not pipes)."""
    run_env = {**env, **({"NEWSMON_CRASH_AT": crash_at, "NEWSMON_CRASH_HOW": how} if crash_at else {})}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "newsmon", *args], env=run_env, stdout=out, stderr=err, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=600)
        finally:
            if how == "kill":
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


FEED = DEMO_FEEDS_DIR / "google-news-semiconductors-2026-03.xml"
EMPTY_FEED = '<?xml version="1.0"?><rss version="2.0"><channel><title>wire</title></channel></rss>'


@pytest.fixture(scope="module")
def expected() -> set[str]:
    return expected_alerts([FEED], load_settings())


@pytest.fixture
def wire(tmp_path: Path) -> Iterator[tuple[FeedServer, Path]]:
    """A feed server on a folder of its own, so a test can change the feed: (server, config file)."""
    folder = tmp_path / "feeds"
    folder.mkdir()
    shutil.copy(FEED, folder / "wire.xml")
    server = FeedServer(folder).start()
    config = tmp_path / "newsmon.yaml"
    config.write_text(
        yaml.safe_dump(
            {"feeds": [{"url": server.url("wire.xml"), "name": "wire"}], "fetch_allow_networks": ["127.0.0.1/32"]}
        )
    )
    yield server, config
    server.stop()


def _etag(data: Path) -> str | None:
    with contextlib.closing(sqlite3.connect(data / "state.sqlite3")) as conn:
        row = conn.execute("SELECT etag FROM feeds WHERE feed_id = 'wire'").fetchone()
    return row[0] if row else None


def _delivered(env: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    """The valid alerts on the matches topic, and how many raw records carried them."""
    records = read_records(env["NEWSMON_KAFKA_BOOTSTRAP"], env["NEWSMON_TOPIC_MATCHES"], idle=5)
    messages = [json.loads(r.value) for r in records]
    for message in messages:
        match_schema_validator().validate(message)
    return messages, len(records)


# Every step of a cycle, killed the way it can die: SIGKILL (a crash, the OOM killer), an exception (a failing
# encoder), SIGINT (Ctrl-C), SIGTERM (a service manager stopping it).
CASES = [
    ("pipeline-fetched", "kill"),
    ("pipeline-parsed", "kill"),
    ("pipeline-pending", "kill"),
    ("pipeline-embedding", "kill"),
    ("pipeline-recording", "kill"),
    ("pipeline-recorded", "kill"),
    ("pipeline-sent", "kill"),
    ("pipeline-acked", "kill"),
    ("pipeline-embedding", "error"),
    ("pipeline-embedding", "int"),
    ("pipeline-pending", "term"),
]
BEFORE_INTAKE = {"pipeline-fetched", "pipeline-parsed"}
SCORED = {"pipeline-recorded", "pipeline-sent", "pipeline-acked"}
EXIT_CODES = {"kill": -9, "error": 1, "int": 130, "term": 143}


@pytest.mark.parametrize(("point", "how"), CASES, ids=[f"{p}-{h}" for p, h in CASES])
def test_a_cycle_that_dies_at_any_step_loses_no_story_and_alerts_each_once(
    point: str,
    how: str,
    env: dict[str, str],
    wire: tuple[FeedServer, Path],
    expected: set[str],
    report: Callable[[str], None],
) -> None:
    server, config = wire
    crashed = _newsmon(env, "run", "--once", "--config", str(config), crash_at=point, how=how)
    assert crashed.returncode == EXIT_CODES[how], crashed.stderr[-2000:]
    if how != "kill":  # a clean stop leaves nothing running: not Prefect's temporary server, not a parse worker
        assert leftovers(f"PREFECT_HOME={env['PREFECT_HOME']}") == []
    data = Path(env["NEWSMON_DATA_DIR"])
    if point in BEFORE_INTAKE:
        assert _etag(data) is None  # the feed's validators did not advance: the next poll fetches it whole
    else:  # the validators advanced with the stories kept; then the feed moves on and drops them all
        assert _etag(data) is not None
        (server.folder / "wire.xml").write_text(EMPTY_FEED)
    restarted = _newsmon(env, "run", "--once", "--config", str(config))
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    said = " ".join((restarted.stdout + restarted.stderr).split())
    if point not in BEFORE_INTAKE | SCORED:
        assert f"{len(feed_stories([FEED]))} left pending by an earlier cycle" in said
    messages, raw = _delivered(env)
    stories = {m["story"]["id"] for m in messages}
    distinct = {m["message_id"] for m in messages}
    report(
        f"[{point}, {how}] exit {crashed.returncode}; after restart {len(distinct)} distinct alerts of "
        f"{len(expected)} expected, {raw - len(distinct)} raw duplicates, lost {len(expected - stories)}"
    )
    assert stories == expected and len(distinct) == len(expected) >= 3
    if point not in {"pipeline-sent", "pipeline-acked"}:
        assert raw == len(distinct)  # nothing had reached the broker before the crash


def test_a_broken_topics_file_fails_the_cycle_before_anything_is_fetched(
    env: dict[str, str], wire: tuple[FeedServer, Path], expected: set[str], tmp_path: Path
) -> None:
    server, config = wire
    seeds = tmp_path / "seeds"
    shutil.copytree(PROJECT_ROOT / "seeds", seeds)
    topics = seeds / "huawei-korea-chips.topics.yaml"
    topics.write_text(topics.read_text().replace("threshold:", "threshhold:", 1))
    env = {**env, "NEWSMON_SEEDS_DIR": str(seeds)}
    failed = _newsmon(env, "run", "--once", "--config", str(config))
    assert failed.returncode == 1 and "invalid topics file" in failed.stderr
    assert leftovers(f"PREFECT_HOME={env['PREFECT_HOME']}") == []
    assert sum(server.requests.values()) == 0  # checked before anything was fetched
    topics.write_text(topics.read_text().replace("threshhold:", "threshold:"))
    assert _newsmon(env, "run", "--once", "--config", str(config)).returncode == 0
    assert {m["story"]["id"] for m in _delivered(env)[0]} == expected


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    with webhook_receiver() as found:
        yield found


def _publish(bootstrap: str, topic: str, count: int) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    try:
        for n in range(count):
            producer.send(topic, key=b"k", value=alert(n).encode()).get(timeout=30)
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
    expected = sorted(alert(n).message_id for n in range(5))
    assert sorted(set(handler.keys())) == expected  # once per alert, for a receiver honouring Idempotency-Key
    raw_repeats = len(handler.keys()) - len(expected)
    report(f"[{point}] webhook POSTs {len(handler.keys())} for 5 alerts (repeats {raw_repeats}, same Idempotency-Key)")
    assert raw_repeats == (1 if point == "consumer-handled" else 0)
