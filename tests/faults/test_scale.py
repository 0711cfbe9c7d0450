"""Past one machine, as a team runs it: the repository's ``prefect.yaml`` deployed to a real Prefect server (on
PostgreSQL), two Prefect process workers ("machines" a and b, each its own Prefect home and worker name), one
PostgreSQL state, the 3-node Kafka cluster, 200 feeds on a loopback server. Machine a is SIGKILLed in the middle
of a cycle, holding the leases of the feeds it had just fetched. The test shows what the team relies on:

- every expected match reaches the topic, and none twice once a consumer de-duplicates by key;
- no feed is fetched twice within its interval, except the dead machine's leased feeds, once, after the lease
  expired, and within one lease period of the kill.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import yaml

from newsmon.config import PROJECT_ROOT, load_settings
from newsmon.dev.feedserver import FeedServer
from newsmon.dev.local_kafka import LocalKafka

from ..conftest import FIXTURES, PrefectServer
from ..expected import expected_alerts
from ..kafka_records import read_records
from ..processes import processes_with
from ..wire import write_feed

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

FEEDS = 200
LEASE_BATCH = 40  # feeds a worker leases, fetches and records at a time
LEASE_SECONDS = 45  # longer than a cycle of the surviving worker, so its first cycle cannot take the dead one's
PREFECT = str(Path(sys.executable).parent / "prefect")


def _headlines() -> list[str]:
    """Real headlines of both labelled seeds, each once."""
    titles: dict[str, None] = {}
    headlines = FIXTURES / "headlines"
    for path in (headlines / "dev-labelled.jsonl", headlines / "memory-supercycle" / "labelled.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            titles.setdefault(json.loads(line)["title"], None)
    return list(titles)


def _write_feeds(folder: Path) -> list[Path]:
    """``FEEDS`` feeds sharing the headlines out, every item its own link."""
    titles = _headlines()
    per_feed = len(titles) // FEEDS
    return [
        write_feed(folder, titles[n * per_feed : (n + 1) * per_feed], f"feed-{n:03d}.xml", first=n * 1000)
        for n in range(FEEDS)
    ]


def _deploy(prefect_server: PrefectServer, tmp_path: Path, pool: str, config: Path) -> None:
    """Deploy the repository's ``prefect.yaml`` with ``prefect deploy --all``, on the test's own work pool and
    config, and without its schedules: the test starts each cycle itself, so it knows which machine runs it."""
    document = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    for deployment in document["deployments"]:
        deployment["work_pool"]["name"] = pool
        deployment["parameters"]["config_file"] = str(config)
        deployment.pop("schedules")
    project = tmp_path / "prefect.yaml"
    project.write_text(yaml.safe_dump(document))
    env = _prefect_env(prefect_server, tmp_path / "deployer")
    _prefect(env, "work-pool", "create", pool, "--type", "process")
    _prefect(env, "--no-prompt", "deploy", "--all", "--prefect-file", str(project))


def _prefect_env(prefect_server: PrefectServer, home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PREFECT_API_URL": prefect_server.api_url, "PREFECT_HOME": str(home), **extra}


def _prefect(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PREFECT, *args], env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _run_deployment(env: dict[str, str], name: str) -> str:
    """Start a run of ``newsmon-monitor/<name>`` now; returns its id."""
    out = _prefect(env, "deployment", "run", f"newsmon-monitor/{name}")
    found = re.search(r"UUID:\s*([0-9a-f-]{36})", out)
    assert found, out
    return found.group(1)


def _wait_for_state(prefect_server: PrefectServer, run_id: str, timeout: float = 300) -> str:
    """The run's final state type (COMPLETED, FAILED, …), waiting for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = httpx.get(f"{prefect_server.api_url}/flow_runs/{run_id}", timeout=10).json()["state_type"]
        if state in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            return str(state)
        time.sleep(1)
    raise AssertionError(f"flow run {run_id} still not finished after {timeout:g} s")


@contextlib.contextmanager
def _machine(prefect_server: PrefectServer, tmp_path: Path, pool: str, name: str, **env: str) -> Iterator[str]:
    """A Prefect process worker on the pool, as a machine of its own; yields its environment marker (its
    Prefect home), which every process it starts inherits. Whatever is left of it is SIGKILLed at the end."""
    home = tmp_path / f"machine-{name}"
    worker_env = _prefect_env(prefect_server, home, NEWSMON_WORKER_NAME=f"machine-{name}", **env)
    with (tmp_path / f"worker-{name}.log").open("ab") as log:
        subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", pool, "--name", f"machine-{name}", "--limit", "1"],
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    marker = f"PREFECT_HOME={home}"
    try:
        yield marker
    finally:
        _kill(marker)


def _kill(marker: str) -> int:
    """SIGKILL every process of one machine (the worker and the flow run it started); how many there were."""
    pids = processes_with(marker)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


def _leased_by(state_url: str, worker: str, live_only: bool = False) -> set[str]:
    """The paths of the feeds ``worker`` holds a lease on (``live_only``: one not yet expired)."""
    query = "SELECT url FROM feeds WHERE leased_by = %s AND (lease_until > %s OR NOT %s)"
    with psycopg.connect(state_url) as conn:
        try:
            rows = conn.execute(query, (worker, time.time(), live_only)).fetchall()
        except psycopg.errors.UndefinedTable:  # the first cycle has not migrated the database yet
            return set()
    return {urlsplit(str(url)).path for (url,) in rows}


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def test_two_machines_share_200_feeds_and_a_killed_one_loses_nothing(
    cluster: LocalKafka,
    prefect_server: PrefectServer,
    state_url: str,
    tmp_path: Path,
    report: Callable[[str], None],
) -> None:
    folder = tmp_path / "feeds"
    folder.mkdir()
    documents = _write_feeds(folder)
    topic = f"newsmon.matches.scale-{uuid.uuid4().hex[:6]}"
    pool = f"scale-{uuid.uuid4().hex[:6]}"
    server = FeedServer(folder).start()
    try:
        config = tmp_path / "newsmon.yaml"
        feeds = [{"url": server.url(d.name), "name": d.stem, "interval_seconds": 3600} for d in documents]
        settings = {
            "state_url": state_url,
            "kafka_bootstrap": cluster.bootstrap,
            "topic_matches": topic,
            "lease_batch": LEASE_BATCH,
            "lease_seconds": LEASE_SECONDS,
            "model_backend": "onnx",  # fp32: a story's score does not move with the batch it is embedded in
            "feeds": feeds,
            "fetch_allow_networks": ["127.0.0.1/32"],
        }
        config.write_text(yaml.safe_dump(settings))
        _deploy(prefect_server, tmp_path, pool, config)
        client = _prefect_env(prefect_server, tmp_path / "client")
        machine_data = {"a": tmp_path / "data-a", "b": tmp_path / "data-b"}
        hang = {"NEWSMON_CRASH_AT": "pipeline-fetched", "NEWSMON_CRASH_HOW": "hang"}

        with _machine(prefect_server, tmp_path, pool, "a", NEWSMON_DATA_DIR=str(machine_data["a"]), **hang) as a:
            run_a = _run_deployment(client, "monitor-1")  # a leases its first batch, fetches it, and stops there
            _wait(lambda: len(_leased_by(state_url, "machine-a")) == LEASE_BATCH, 300, "machine a never leased")
            _wait(lambda: sum(server.requests.values()) >= LEASE_BATCH, 120, "machine a never fetched its batch")
            held = _leased_by(state_url, "machine-a")
            with _machine(prefect_server, tmp_path, pool, "b", NEWSMON_DATA_DIR=str(machine_data["b"])):
                first_b = _wait_for_state(prefect_server, _run_deployment(client, "monitor-2"))
                after_first = dict(server.requests)
                killed = _kill(a)  # the machine dies mid-cycle, its leases still held
                killed_at = time.monotonic()
                assert _leased_by(state_url, "machine-a") == held
                _wait(lambda: not _leased_by(state_url, "machine-a", live_only=True), LEASE_SECONDS, "lease held")
                expired_after = time.monotonic() - killed_at
                second_b = _wait_for_state(prefect_server, _run_deployment(client, "monitor-2"))
                repolled_after = time.monotonic() - killed_at
        requests = dict(server.requests)
        state_a = httpx.get(f"{prefect_server.api_url}/flow_runs/{run_a}", timeout=10).json()["state_type"]
    finally:
        server.stop()

    records = read_records(cluster.bootstrap, topic, idle=5, group=f"scale-{uuid.uuid4().hex[:6]}")
    keys = Counter(r.key.decode() for r in records)
    expected = expected_alerts(documents, load_settings(config))
    twice = {path for path, count in requests.items() if count > 1}
    report(
        f"[scale: Prefect server + PostgreSQL state + 3-node Kafka, {FEEDS} feeds] machine a SIGKILLed holding "
        f"{len(held)} leased feeds ({killed} processes); machine b's first cycle polled "
        f"{sum(after_first.values()) - LEASE_BATCH} feeds, its next cycle the dead machine's {len(held)}, done "
        f"{repolled_after:.0f} s after the kill (their {LEASE_SECONDS} s leases expired {expired_after:.0f} s after "
        f"it); {len(keys)} stories alerted "
        f"({sum(keys.values()) - len(keys)} duplicate records), {len(expected)} expected; runs: b {first_b}, "
        f"{second_b}; a left {state_a}"
    )
    assert first_b == second_b == "COMPLETED"
    assert set(requests) == {f"/{d.name}" for d in documents}  # every feed polled
    assert twice == held  # only the dead machine's leased feeds twice, and only after the lease expired
    assert all(count == 2 for path, count in requests.items() if path in held)
    assert all(after_first[path] == 1 for path in held)  # b did not take them while the lease held
    assert repolled_after <= LEASE_SECONDS + 60  # the next cycle after expiry, at most a cycle's length later
    assert set(keys) == expected  # every expected match, and nothing else
    assert max(keys.values()) == 1  # and no visible duplicate: a consumer de-duplicating by key sees each once
