"""All brokers down for two minutes while the pipeline keeps running cycles on feeds that keep publishing.

Nothing may be lost (every match the pipeline made reaches the topic), the pipeline's memory must stay bounded
(matches wait in the SQLite outbox, not in memory), and everything must be delivered within two minutes of the
brokers coming back.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from newsmon.dev.feedserver import FeedServer
from newsmon.dev.local_kafka import LocalKafka
from newsmon.store import SQLiteStore

from ..kafka_records import read_records
from ..wire import core_headlines, write_feed

pytestmark = [pytest.mark.integration, pytest.mark.faults]

OUTAGE = 120.0


def _tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def test_all_brokers_down_for_two_minutes_loses_nothing(
    cluster: LocalKafka, tmp_path: Path, report: Callable[[str], None]
) -> None:
    headlines = core_headlines()
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    write_feed(feeds, headlines[:15])
    server = FeedServer(feeds).start()
    topic = f"outage-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "newsmon.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "feeds": [{"url": server.url("feed.xml"), "name": "wire", "interval_seconds": 10}],
                "fetch_allow_networks": ["127.0.0.1/32"],
                "poll_interval_seconds": 10,
                "delivery_timeout_seconds": 10,
            }
        )
    )
    env = {
        **os.environ,
        "NEWSMON_KAFKA_BOOTSTRAP": cluster.bootstrap,
        "NEWSMON_DATA_DIR": str(tmp_path / "data"),
        "NEWSMON_TOPIC_MATCHES": topic,
        "NEWSMON_TOPIC_REPLICATION": "3",
        "NEWSMON_TOPIC_MIN_INSYNC_REPLICAS": "2",
        "PREFECT_HOME": str(tmp_path / "prefect"),
    }
    log = (tmp_path / "run.log").open("w")
    pipeline = subprocess.Popen(
        [sys.executable, "-m", "newsmon", "run", "--config", str(config)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        store_path = tmp_path / "data" / "state.sqlite3"
        store = _wait_for_store(store_path, pipeline)
        _wait(lambda: store.outbox_counts()[0] > 0 and store.outbox_counts()[1] == 0, 300, pipeline)
        before_outage = _tree_rss_mib(pipeline.pid)
        cluster.stop(kill=True)
        down_at = time.monotonic()
        peak, batches = before_outage, [headlines[:15], headlines[:30], headlines[:45]]
        while (elapsed := time.monotonic() - down_at) < OUTAGE:
            assert pipeline.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            if batches and elapsed > 10 * (4 - len(batches)) ** 2:  # new stories at ~10 s, 40 s and 90 s
                write_feed(feeds, batches.pop(0))
            peak = max(peak, _tree_rss_mib(pipeline.pid))
            time.sleep(1)
        waiting = store.outbox_counts()[1]
        assert not batches  # the feed's last version (45 items) was published during the outage
        cluster.start(timeout=240)
        back_at = time.monotonic()
        # Done when every item of the feed's last version has been through a cycle and nothing waits: a cycle
        # still retrying delivery when the outage ends may not have fetched the last version yet, and its
        # matches would otherwise arrive after the count.
        _wait(lambda: _seen(store_path) == 45 and store.outbox_counts()[1] == 0, 240, pipeline)
        recovered = time.monotonic() - back_at
        sent, pending = store.outbox_counts()
        records = read_records(cluster.bootstrap, topic, idle=6)
        distinct = {json.loads(r.value)["message_id"] for r in records}
        report(
            f"[outage {OUTAGE:.0f} s] {waiting} matches waited in the outbox; {sent} matches in all, {len(distinct)} "
            f"on the topic ({len(records) - len(distinct)} raw duplicates), lost {sent - len(distinct)}; delivered "
            f"{recovered:.1f} s after the brokers answered; pipeline memory {before_outage:.0f} MiB before, peak "
            f"{peak:.0f} MiB during the outage"
        )
        assert waiting > 0 and pending == 0
        assert len(distinct) == sent
        assert recovered <= 120
        assert peak <= before_outage + 200  # bounded: the outbox lives on disk
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pipeline.pid, signal.SIGKILL)
        server.stop()
        log.close()
        cluster.start(timeout=240)  # leave the cluster up for the other fault tests


def _seen(path: Path) -> int:
    """How many stories the pipeline has recorded as seen (matched or not)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM seen").fetchone()[0])


def _wait_for_store(path: Path, process: subprocess.Popen[bytes]) -> SQLiteStore:
    _wait(path.exists, 300, process)
    return SQLiteStore(path)


def _wait(condition: Callable[[], bool], timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the pipeline exited"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(1)
