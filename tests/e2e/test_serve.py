"""``newsmon serve`` unattended, as a user runs it: a real ``newsmon serve`` process, a feed on a local server
that keeps publishing, the real broker; on Prefect's embedded default and on a real ``prefect server start``.

Each test shows scheduled cycles that fetched the feed and delivered exactly the expected alerts to Kafka
within two intervals, a clean SIGTERM (exit 0, nothing left running), and, with a real server, its runs on
the server and its log free of errors. A cycle stopped half-way by SIGTERM loses nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from newsmon.config import load_settings
from newsmon.dev.feedserver import FeedServer
from newsmon.dev.local_kafka import LocalKafka

from ..conftest import PrefectServer
from ..expected import expected_alerts
from ..kafka_records import read_records, wait_for_stories
from ..processes import leftovers
from ..wire import core_headlines, write_feed

pytestmark = pytest.mark.e2e

INTERVAL = 20  # seconds between cycles; the feed itself may be polled every 10
FLOW_RUN_DONE = r"Flow run '[^']+' - Finished in state Completed"


@dataclass
class Wire:
    """A feed that publishes more headlines over time, and what each new batch must alert."""

    folder: Path
    server: FeedServer
    config: Path
    published: int = 0

    def publish(self, count: int) -> set[str]:
        """Add ``count`` new headlines to the feed; returns the story ids they must alert. Scored as the next
        cycle scores them, on their own: with onnx-int8 a borderline story's relevance moves a little with the
        other stories embedded beside it (activations are quantised per batch)."""
        headlines = core_headlines()
        new = write_feed(self.folder, headlines[self.published : self.published + count], "new.xml", self.published)
        self.published += count
        write_feed(self.folder, headlines[: self.published], "wire.xml")
        return expected_alerts([new], load_settings())


@pytest.fixture
def wire(tmp_path: Path) -> Iterator[Wire]:
    folder = tmp_path / "feeds"
    folder.mkdir()
    server = FeedServer(folder).start()
    config = tmp_path / "newsmon.yaml"
    feed = {"url": server.url("wire.xml"), "name": "wire", "interval_seconds": 10}
    config.write_text(yaml.safe_dump({"feeds": [feed], "fetch_allow_networks": ["127.0.0.1/32"]}))
    yield Wire(folder, server, config)
    server.stop()


def _env(kafka: LocalKafka, tmp_path: Path, api_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {
        "NEWSMON_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "NEWSMON_DATA_DIR": str(tmp_path / "data"),
        "NEWSMON_TOPIC_MATCHES": f"serve-{uuid.uuid4().hex[:6]}",
        "PREFECT_HOME": str(tmp_path / "prefect"),
        **extra,
    }
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


@contextlib.contextmanager
def _serving(env: dict[str, str], config: Path, log: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """``newsmon serve`` in its own session; SIGKILLed with all it started if the test ends without stopping it."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "newsmon", "serve", "--interval", str(INTERVAL), "--config", str(config), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _stop(process: subprocess.Popen[bytes], env: dict[str, str]) -> tuple[int, float]:
    """SIGTERM; (exit code, seconds to exit). Nothing it started may outlive it."""
    stopped = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    took = time.monotonic() - stopped
    assert leftovers(f"PREFECT_HOME={env['PREFECT_HOME']}") == []
    return code, took


def _between_cycles(log: Path, cycles: int, done: str = "next cycle at", timeout: float = 3 * INTERVAL) -> None:
    """Wait until at least ``cycles`` cycles have ended (the log said ``done`` so often) and the service is
    idle: the log's last line is that of a finished cycle, so a stop now lands between cycles."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        if len(re.findall(done, "\n".join(lines))) >= cycles and lines and re.search(done, lines[-1]):
            return
        assert time.monotonic() < deadline, "\n".join(lines[-30:])
        time.sleep(0.2)


def _on_topic(env: dict[str, str]) -> set[str]:
    """Every story id on the matches topic, duplicates included once."""
    records = read_records(env["NEWSMON_KAFKA_BOOTSTRAP"], env["NEWSMON_TOPIC_MATCHES"], idle=5)
    return {json.loads(r.value)["story"]["id"] for r in records}


def _problems(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line or "Traceback" in line]


def _delivered_within(env: dict[str, str], wanted: set[str], since: float, log: Path) -> float:
    """Seconds from ``since`` until every wanted story is on the topic (at most two intervals)."""
    found = wait_for_stories(env["NEWSMON_KAFKA_BOOTSTRAP"], env["NEWSMON_TOPIC_MATCHES"], wanted, 2 * INTERVAL + 5)
    took = time.monotonic() - since
    assert wanted <= found, f"missing {len(wanted - found)} of {len(wanted)}: {log.read_text()[-3000:]}"
    assert took <= 2 * INTERVAL, f"{took:.0f} s"
    return took


def test_serve_on_the_embedded_default_runs_a_cycle_every_interval(
    kafka_broker: LocalKafka, wire: Wire, tmp_path: Path, report: Callable[[str], None]
) -> None:
    env = _env(kafka_broker, tmp_path)
    log = tmp_path / "serve.log"
    first = wire.publish(6)
    started = time.monotonic()
    with _serving(env, wire.config, log) as process:
        to_first = _delivered_within(env, first, started, log)
        published = time.monotonic()
        second = wire.publish(6)
        to_second = _delivered_within(env, first | second, published, log)
        _between_cycles(log, 2)
        code, took = _stop(process, env)
    found = _on_topic(env)
    text = log.read_text()
    cycles = len(set(re.findall(r"cycle ([0-9a-f]{8}): ", text)))
    report(
        f"[serve, embedded, interval {INTERVAL} s] first alerts {to_first:.0f} s after start, new stories alerted "
        f"{to_second:.0f} s after they were published; {cycles} cycles; SIGTERM: exit {code} in {took:.1f} s"
    )
    assert found == first | second and len(found) >= 6  # exactly the expected alerts, nothing else
    assert cycles >= 2 and "next cycle at" in text
    assert code == 0 and "stopped by SIGTERM" in text
    assert _problems(log) == []


def _runs(server: PrefectServer, deployment: str) -> dict[str, int]:
    """How many runs of the named deployment the server has, by state."""
    found = httpx.post(
        f"{server.api_url}/deployments/filter", json={"deployments": {"name": {"any_": [deployment]}}}, timeout=10
    ).json()
    runs = httpx.post(
        f"{server.api_url}/flow_runs/filter",
        json={"flow_runs": {"deployment_id": {"any_": [d["id"] for d in found]}}, "limit": 200},
        timeout=10,
    ).json()
    counts: dict[str, int] = {}
    for run in runs:
        counts[run["state_type"]] = counts.get(run["state_type"], 0) + 1
    return counts


def test_serve_with_a_prefect_server_runs_its_deployment_on_schedule_and_again_after_a_restart(
    kafka_broker: LocalKafka,
    prefect_server: PrefectServer,
    wire: Wire,
    tmp_path: Path,
    report: Callable[[str], None],
) -> None:
    env = _env(kafka_broker, tmp_path, prefect_server.api_url)
    name = f"test-{uuid.uuid4().hex[:6]}"
    log = tmp_path / "serve.log"
    first = wire.publish(6)
    started = time.monotonic()
    with _serving(env, wire.config, log, "--name", name) as process:
        to_first = _delivered_within(env, first, started, log)
        published = time.monotonic()
        second = wire.publish(6)
        to_second = _delivered_within(env, first | second, published, log)
        _between_cycles(log, 2, FLOW_RUN_DONE)
        code, took = _stop(process, env)
    assert code == 0
    runs = _runs(prefect_server, name)
    assert runs.get("COMPLETED", 0) >= 2, runs
    third = wire.publish(6)  # published while nothing serves: the restarted service must pick it up
    restarted = time.monotonic()
    with _serving(env, wire.config, log, "--name", name) as process:
        to_third = _delivered_within(env, first | second | third, restarted, log)
        _between_cycles(log, 3, FLOW_RUN_DONE)
        _stop(process, env)
    found = _on_topic(env)
    report(
        f"[serve, Prefect server, interval {INTERVAL} s] first alerts {to_first:.0f} s after start, new stories "
        f"{to_second:.0f} s after publication, after a restart {to_third:.0f} s; runs on the server "
        f"{_runs(prefect_server, name)}; SIGTERM: exit {code} in {took:.1f} s; server log errors "
        f"{len(prefect_server.problems())}"
    )
    assert found == first | second | third
    assert prefect_server.problems() == []
    assert _problems(log) == []


def _pending(data: Path) -> int:
    path = data / "state.sqlite3"
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM stories WHERE scored IS NULL").fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0


@pytest.mark.parametrize("with_server", [False, True], ids=["embedded", "prefect-server"])
def test_sigterm_in_the_middle_of_a_cycle_stops_serve_cleanly_and_loses_nothing(
    with_server: bool,
    kafka_broker: LocalKafka,
    wire: Wire,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    report: Callable[[str], None],
) -> None:
    api = request.getfixturevalue("prefect_server").api_url if with_server else None
    stuck = {"NEWSMON_CRASH_AT": "pipeline-embedding", "NEWSMON_CRASH_HOW": "hang"}  # a cycle stuck embedding
    env = _env(kafka_broker, tmp_path, api, **stuck)
    log = tmp_path / "serve.log"
    wanted = wire.publish(8)
    data = Path(env["NEWSMON_DATA_DIR"])
    with _serving(env, wire.config, log, "--name", f"stop-{uuid.uuid4().hex[:6]}") as process:
        deadline = time.monotonic() + 180
        while _pending(data) == 0:  # the feed's stories are in: the cycle is past its intake, stuck embedding
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        time.sleep(2)
        code, took = _stop(process, env)
    assert code == 0 and took < 30, log.read_text()[-3000:]
    env = {k: v for k, v in env.items() if k not in stuck}
    after = subprocess.run(
        [sys.executable, "-m", "newsmon", "run", "--once", "--config", str(wire.config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert after.returncode == 0, after.stderr[-3000:]
    said = " ".join((after.stdout + after.stderr).split())
    found = wait_for_stories(env["NEWSMON_KAFKA_BOOTSTRAP"], env["NEWSMON_TOPIC_MATCHES"], wanted, 30)
    report(
        f"[serve {'with a Prefect server' if with_server else 'embedded'}, SIGTERM mid-cycle] exit {code} in "
        f"{took:.1f} s, nothing left running; the next cycle delivered {len(found & wanted)} of {len(wanted)}"
    )
    assert "8 left pending by an earlier cycle" in said and found == wanted
