"""Replay: a seed added later, or edited topics, catch up on the stories kept from earlier cycles, and no
story ever alerts twice for one seed. Real feeds on a local server, real model, real broker."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.monitor import monitor_cycle
from flows.replay import replay_stories
from newsmon.config import PROJECT_ROOT, load_settings
from newsmon.dev.demo import DEMO_FEEDS_DIR
from newsmon.dev.feedserver import FeedServer
from newsmon.dev.local_kafka import LocalKafka
from newsmon.messages import match_schema_validator

from ..expected import expected_alerts, feed_stories
from ..kafka_records import read_records

pytestmark = pytest.mark.e2e

FEEDS = [
    DEMO_FEEDS_DIR / "google-news-semiconductors-2026-03.xml",
    DEMO_FEEDS_DIR / "google-news-semiconductors-2026-04.xml",
]
MEMORY_TOPICS = """seed: memory-chips
title: Memory chip prices in the AI boom
topics:
  - id: memory-prices
    name: Memory chip prices and supply
    exemplars:
      - DRAM and NAND flash prices soar as AI servers cause a memory chip shortage
      - SK Hynix and Samsung report record profits on high-bandwidth memory demand
      - Micron expands HBM production as memory makers sell out for next year
    keywords: [DRAM, NAND, HBM, memory chip, SK Hynix, Micron]
    threshold: 0.5
"""


@pytest.fixture
def setup(kafka_broker: LocalKafka, tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    """(config file, seeds dir, topic): the Huawei seed alone, two recorded feeds on a local server."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for path in (PROJECT_ROOT / "seeds").glob("huawei-korea-chips.*"):
        shutil.copy(path, seeds / path.name)
    server = FeedServer(DEMO_FEEDS_DIR).start()
    topic = f"replay-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "newsmon.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "seeds_dir": str(seeds),
                "kafka_bootstrap": kafka_broker.bootstrap,
                "topic_matches": topic,
                "feeds": [{"url": server.url(p.name), "name": p.stem} for p in FEEDS],
                "fetch_allow_networks": ["127.0.0.1/32"],
            }
        )
    )
    yield config, seeds, topic
    server.stop()


def _alerts(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    messages = [json.loads(r.value) for r in read_records(bootstrap, topic, idle=5)]
    for message in messages:
        match_schema_validator().validate(message)
    return messages


def _matching(seeds: Path, seed: str, config: Path) -> set[str]:
    """Story ids the scorer alone says alert for ``seed`` over the feeds' stories, in the order they were kept."""
    return expected_alerts(FEEDS, load_settings(config), seeds, seed)


def _widened(topics: str, by: float = 0.15) -> str:
    return re.sub(r"threshold: ([0-9.]+)", lambda m: f"threshold: {float(m.group(1)) - by:.3f}", topics)


def _newsmon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsmon", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=os.environ,
    )


def test_a_new_seed_and_edited_topics_catch_up_and_nothing_alerts_twice(
    setup: tuple[Path, Path, str], kafka_broker: LocalKafka, report: Callable[[str], None]
) -> None:
    config, seeds, topic = setup
    first = monitor_cycle(config_file=str(config), due_only=False)
    huawei = {m["story"]["id"] for m in _alerts(kafka_broker.bootstrap, topic)}
    assert first["new"] == len(feed_stories(FEEDS)) and len(huawei) == first["delivered"] >= 5

    (seeds / "memory-chips.topics.yaml").write_text(MEMORY_TOPICS)
    cycle = _newsmon("run", "--once", "--config", str(config))
    said = " ".join((cycle.stdout + cycle.stderr).split())
    assert cycle.returncode == 0, cycle.stderr[-3000:]
    assert (
        f"seed 'memory-chips' is new: the {first['new']} stories kept from earlier cycles were not scored against "
        "it; 'newsmon replay --since 7d --seed memory-chips' catches up" in said
    )

    replayed = _newsmon("replay", "--since", "7d", "--seed", "memory-chips", "--config", str(config))
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    said = " ".join((replayed.stdout + replayed.stderr).split())
    assert f"replayed {first['new']} stories against memory-chips" in said
    messages = _alerts(kafka_broker.bootstrap, topic)
    memory = {m["story"]["id"] for m in messages if m["seed"]["id"] == "memory-chips"}
    assert memory == _matching(seeds, "memory-chips", config) and len(memory) >= 3
    assert {m["story"]["id"] for m in messages if m["seed"]["id"] == "huawei-korea-chips"} == huawei

    again = replay_stories(config_file=str(config))  # every seed: everything already alerted
    assert (again["matches"], again["delivered"]) == (0, 0) and again["known"] == len(huawei) + len(memory)

    topics = seeds / "huawei-korea-chips.topics.yaml"
    topics.write_text(_widened(topics.read_text()))  # an analyst widens every topic
    widened = replay_stories(config_file=str(config), seed="huawei-korea-chips")
    messages = _alerts(kafka_broker.bootstrap, topic)
    ids = [m["message_id"] for m in messages]
    added = {m["story"]["id"] for m in messages if m["seed"]["id"] == "huawei-korea-chips"} - huawei
    report(
        f"[replay] first cycle {len(huawei)} alerts; new seed caught up with {len(memory)}; a second replay "
        f"{again['matches']}; widened topics {widened['matches']} matches, {len(added)} new alerts, "
        f"{widened['known']} already alerted"
    )
    assert len(ids) == len(set(ids))  # no alert twice on the topic
    assert added and added <= _matching(seeds, "huawei-korea-chips", config) - huawei
    assert widened["delivered"] == len(added)
