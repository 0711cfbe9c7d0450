"""Several workers, one PostgreSQL state: two `newsmon run` processes started together poll every feed exactly
once between them (leases, not timing), and every expected alert reaches Kafka exactly once."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from newsmon.config import load_settings
from newsmon.dev.demo import DEMO_FEEDS_DIR
from newsmon.dev.feedserver import FeedServer
from newsmon.dev.local_kafka import LocalKafka

from ..expected import expected_alerts
from ..kafka_records import read_records

pytestmark = pytest.mark.e2e

COPIES = 5  # each bundled feed served under five paths: more feeds than one lease batch, the same stories


def test_two_workers_poll_each_feed_once_and_alert_each_story_once(
    kafka_broker: LocalKafka, tmp_path: Path, state_url: str, report
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "feeds"
    folder.mkdir()
    originals = sorted(DEMO_FEEDS_DIR.glob("*.xml"))
    for n in range(COPIES):
        for path in originals:
            shutil.copy(path, folder / f"{path.stem}-{n}.xml")
    topic = f"newsmon.matches.{uuid.uuid4().hex[:6]}"
    server = FeedServer(folder).start()
    try:
        feeds = [{"url": server.url(p.name), "name": p.stem, "interval_seconds": 600} for p in sorted(folder.iterdir())]
        configs = []
        for worker in ("a", "b"):  # as on two machines: each its own data dir, one shared state
            config = tmp_path / f"worker-{worker}.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "data_dir": str(tmp_path / f"data-{worker}"),
                        "state_url": state_url,
                        "lease_batch": 4,
                        "kafka_bootstrap": kafka_broker.bootstrap,
                        "topic_matches": topic,
                        "feeds": feeds,
                        "fetch_allow_networks": ["127.0.0.1/32"],
                    }
                )
            )
            configs.append(config)
        env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "newsmon", "run", "--once", "--due-only", "--config", str(c)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={**env, "PREFECT_HOME": str(tmp_path / f"prefect-{c.stem}")},
            )
            for c in configs
        ]
        outputs = [w.communicate(timeout=600)[0] for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs
        polled = [int(re.findall(r"(\d+) feeds fetched", out)[0]) for out in outputs]  # each worker's cycle line
        assert sum(polled) == len(feeds), (polled, outputs)
        assert sorted(server.requests.values()) == [1] * len(feeds)  # every feed once, by one worker or the other

        records = read_records(kafka_broker.bootstrap, topic, idle=5, group="workers")
        keys = [r.key.decode() for r in records]
        expected = expected_alerts(originals, load_settings(configs[0]))
        assert len(keys) == len(set(keys)) and set(keys) == expected
        report(
            f"two workers, one PostgreSQL state: {len(feeds)} feeds polled once each ({polled[0]} + {polled[1]}), "
            f"{len(keys)} alerts, each once"
        )
    finally:
        server.stop()
