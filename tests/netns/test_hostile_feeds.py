"""Hostile and broken publishers: every attack ends within its deadline, within its memory budget, as that
feed's recorded error, and the next feed in the cycle is still processed.

Runs in a loopback-only network namespace (see conftest.py). The server is on 127.0.0.2 and only
127.0.0.2/32 is allowed, so 127.0.0.1 counts as "the machine's own services" that the guard must refuse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsmon.config import FeedConfig, load_settings
from newsmon.dev.demo import DEMO_FEEDS_DIR
from newsmon.fetch import FetchRequest
from newsmon.pipeline import fetch_feeds, parse_results, record_intake
from newsmon.store import SQLiteStore

from .hostile_server import HOST, HostileServer, gzip_bomb

FETCH_TIMEOUT = 4.0
PARSE_TIMEOUT = 3.0
MAX_BYTES = 15 * 1024 * 1024
CANARY = "canary-7f3a9c1e-must-never-appear"

# path -> the error kind the feed must end with (None: it may parse, but must not leak or blow up)
CASES: dict[str, str | None] = {
    "xxe.xml": None,
    "xxe-dtd.xml": None,
    "laughs.xml": None,
    "bomb.xml": "too_large",
    "huge.xml": "too_large",
    "slow.xml": "timeout",
    "loop": "redirects",
    "to-loopback": "blocked",
    "to-metadata": "blocked",
    "to-private": "blocked",
    "to-octal-loopback": "url",  # not even a valid URL to httpx: refused before any look-up
    "to-decimal-loopback": "blocked",
    "to-ipv6-mapped": "blocked",
    "to-file": "scheme",
    "authors.xml": "parse_timeout",
}


@pytest.fixture(scope="session")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secrets") / "canary.txt"
    path.write_text(CANARY)
    return path


@pytest.fixture(scope="session")
def server(canary: Path) -> Iterator[HostileServer]:
    hostile = HostileServer((DEMO_FEEDS_DIR / "arstechnica.xml").read_bytes(), canary, gzip_bomb(10))
    yield hostile
    hostile.stop()


PARSE_KINDS = (None, "parse", "parse_timeout", "parse_memory")


@dataclass(frozen=True)
class Run:
    """One ``newsmon fetch`` process: its JSON answer, wall time and the peak memory of its process tree."""

    answer: dict[str, object]
    seconds: float
    peak: int

    @property
    def parsed(self) -> bool:
        """Whether the document reached the parse workers (which a fetch-level failure never starts)."""
        return self.answer.get("error_kind") in PARSE_KINDS


def _pss(pid: int) -> int:
    """Proportional set size: resident bytes with pages shared among forked workers divided among them."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def _tree_memory(root: int) -> int:
    """Memory of ``root`` and all its descendants (the parse forkserver and its workers), in bytes of PSS."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit():
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            total += _pss(pid)
        except OSError:
            continue  # it ended between the listing and the read
    return total


def _fetch_cli(url: str, data_dir: Path) -> Run:
    env = {
        **os.environ,
        "NEWSMON_DATA_DIR": str(data_dir),
        "NEWSMON_FETCH_TIMEOUT_SECONDS": str(FETCH_TIMEOUT),
        "NEWSMON_PARSE_TIMEOUT_SECONDS": str(PARSE_TIMEOUT),
        "NEWSMON_FETCH_MAX_BYTES": str(MAX_BYTES),
    }
    command = [sys.executable, "-m", "newsmon", "fetch", url, "--json", "--allow-network", f"{HOST}/32"]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_memory(process.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        out, errors = process.communicate(timeout=120)
    finally:
        done.set()
        sampler.join()
    seconds = time.monotonic() - started
    assert out, f"no answer from newsmon fetch {url}: {errors.decode()}"
    return Run(json.loads(out), seconds, peak)


@pytest.fixture(scope="session")
def baselines(server: HostileServer, tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Run]:
    """Benign runs of the same command, by whether parsing happens: a real feed, and a plain 404."""
    parsed = _fetch_cli(server.url("good.xml"), tmp_path_factory.mktemp("baseline"))
    assert len(parsed.answer["stories"]) == 20  # type: ignore[arg-type]
    missing = _fetch_cli(server.url("absent.xml"), tmp_path_factory.mktemp("baseline"))
    assert missing.answer["error_kind"] == "http_status" and not missing.parsed
    return {True: parsed, False: missing}


@pytest.mark.parametrize(("path", "expected"), CASES.items(), ids=list(CASES))
def test_each_attack_ends_in_time_within_memory_as_that_feeds_error(
    server: HostileServer, baselines: dict[bool, Run], tmp_path: Path, path: str, expected: str | None
) -> None:
    run = _fetch_cli(server.url(path), tmp_path)
    baseline = baselines[run.parsed]
    text = json.dumps(run.answer)
    assert CANARY not in text
    if expected is not None:
        assert run.answer.get("error_kind") == expected, text[:500]
    budget = baseline.seconds + FETCH_TIMEOUT + PARSE_TIMEOUT + 3
    assert run.seconds < budget, f"{path} took {run.seconds:.1f} s (budget {budget:.1f} s)"
    grown = run.peak - baseline.peak
    print(f"{path}: {run.answer.get('error_kind') or 'parsed'} in {run.seconds:.1f} s, peak +{grown / 2**20:.1f} MiB")
    assert grown < MAX_BYTES + 50 * 2**20, f"{path}: the process tree grew by {grown / 2**20:.0f} MiB"


def test_an_external_dtd_is_never_fetched(server: HostileServer, tmp_path: Path) -> None:
    _fetch_cli(server.url("xxe-dtd.xml"), tmp_path)
    assert server.requests["/evil.dtd"] == 0


def test_a_file_url_is_refused_before_anything_is_read(tmp_path: Path, canary: Path) -> None:
    run = _fetch_cli(canary.as_uri(), tmp_path)
    assert run.answer["error_kind"] == "scheme" and CANARY not in json.dumps(run.answer)


def test_one_cycle_over_every_attack_records_each_error_and_still_processes_the_good_feed(
    server: HostileServer, tmp_path: Path
) -> None:
    names = [*CASES, "good.xml"]
    feeds = [FeedConfig(url=server.url(name), name=name, id=f"feed-{i}") for i, name in enumerate(names)]
    settings = load_settings(
        data_dir=tmp_path,
        fetch_allow_networks=[f"{HOST}/32"],
        fetch_timeout_seconds=FETCH_TIMEOUT,
        parse_timeout_seconds=PARSE_TIMEOUT,
    )
    started = time.monotonic()
    results = fetch_feeds([FetchRequest(f.id, f.url) for f in feeds], settings)
    stories, outcomes = parse_results(results, settings.parse_timeout_seconds)
    store = SQLiteStore(settings.state_db)
    record_intake(store, results, outcomes, feeds, stories)
    assert time.monotonic() - started < FETCH_TIMEOUT + 2 * PARSE_TIMEOUT + 15
    good_id = f"feed-{names.index('good.xml')}"
    assert sum(s.feed_id == good_id for s in stories) == 20
    assert all(CANARY not in s.title + s.summary for s in stories)
    health = store.feed_rows()
    for i, name in enumerate(names):
        expected = CASES.get(name)
        if expected is not None:
            assert health[f"feed-{i}"].failures == 1 and health[f"feed-{i}"].last_error, name
    assert health[good_id].failures == 0
    assert datetime.now(UTC).timestamp() < (health[f"feed-{names.index('loop')}"].next_due or 0)
