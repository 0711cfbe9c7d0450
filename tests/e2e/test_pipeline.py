"""End to end: recorded feeds on a local server → Prefect flow → real Kafka → consumer, twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.monitor import monitor_cycle
from newsmon.config import Settings, load_settings
from newsmon.dev.demo import DEMO_FEEDS_DIR
from newsmon.dev.feedserver import FeedServer
from newsmon.dev.local_kafka import LocalKafka
from newsmon.messages import match_schema_validator

from ..expected import expected_alerts
from ..kafka_records import read_records

pytestmark = pytest.mark.e2e


def _expected_story_ids(settings: Settings) -> set[str]:
    """What the scorer alone (same backend as the pipeline) says should match in the bundled feeds: the pipeline
    must deliver exactly this."""
    return expected_alerts(sorted(DEMO_FEEDS_DIR.glob("*.xml")), settings)


def _read(bootstrap: str, topic: str, group: str) -> list[Any]:
    return read_records(bootstrap, topic, idle=5, group=group)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_feeds_to_kafka_to_consumer_exactly_once_per_story(
    kafka_broker: LocalKafka, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    state = {"state_url": request.getfixturevalue("state_url")} if backend == "postgresql" else {}
    topic = f"newsmon.matches.{uuid.uuid4().hex[:6]}"
    server = FeedServer(DEMO_FEEDS_DIR).start()
    try:
        config = tmp_path / "newsmon.yaml"
        feeds = [
            {"url": server.url(p.name), "name": p.stem, "interval_seconds": 60}
            for p in sorted(DEMO_FEEDS_DIR.glob("*.xml"))
        ]
        config.write_text(
            yaml.safe_dump(
                {
                    "data_dir": str(tmp_path / "data"),
                    "kafka_bootstrap": kafka_broker.bootstrap,
                    "topic_matches": topic,
                    "feeds": feeds,
                    "fetch_allow_networks": ["127.0.0.1/32"],
                    **state,
                }
            )
        )
        first = monitor_cycle(config_file=str(config), due_only=False)
        records = _read(kafka_broker.bootstrap, topic, "e2e")
        messages = [json.loads(r.value) for r in records]
        for message in messages:
            match_schema_validator().validate(message)
        keys = [r.key.decode() for r in records]
        assert keys == [m["story"]["id"] for m in messages]
        assert len(keys) == len(set(keys)) == first["matches"] - first["grouped"] == first["delivered"]
        assert first["grouped"] >= 1  # the demo feeds carry a syndicated repeat of a matching story
        grouped = [m for m in messages if m["duplicates"]]
        assert grouped and all(m["duplicate_group"] == m["story"]["id"] for m in grouped)
        assert set(keys) == _expected_story_ids(load_settings(config))
        assert len(keys) >= 5
        assert all(m["topics"][0]["evidence"]["story_sentence"] for m in messages)

        review = tmp_path / "review.jsonl"
        export = ["review", "export", str(review), "--config", str(config), "--near-misses", "5", "--sample", "3"]
        subprocess.run(
            [sys.executable, "-m", "newsmon", *export],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        lines = [json.loads(line) for line in review.read_text().splitlines()]
        whys = [line["why"] for line in lines]
        assert sorted(whys) == ["alert"] * first["matches"] + ["near miss"] * 5 + ["sample"] * 3
        gaps = [abs(line["relevance"] - line["threshold"]) for line in lines if line["why"] != "sample"]
        assert gaps == sorted(gaps)  # nearest the threshold first: what teaches the model most
        assert set(keys) <= {line["story_id"] for line in lines if line["why"] == "alert"}
        assert all(line["label"] is None and line["title"] and line["url"] for line in lines)

        assert not (tmp_path / "data" / "state.sqlite3").exists() or backend == "sqlite"
        second = monitor_cycle(config_file=str(config), due_only=False)
        assert (second["new"], second["matches"], second["delivered"]) == (0, 0, 0)
        assert all(server.requests[f"/{p.name}"] == 2 for p in DEMO_FEEDS_DIR.glob("*.xml"))
        assert _read(kafka_broker.bootstrap, topic, "e2e") == []  # nothing new for the same group

        tail = subprocess.run(
            [
                sys.executable,
                "-m",
                "newsmon",
                "tail",
                "--config",
                str(config),
                "--from-beginning",
                "--json",
                "--idle-timeout",
                "5",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
            env={**os.environ},
        )
        tailed = [json.loads(line) for line in tail.stdout.splitlines()]
        assert sorted(tailed, key=lambda m: m["message_id"]) == sorted(messages, key=lambda m: m["message_id"])
    finally:
        server.stop()
