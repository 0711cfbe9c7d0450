"""Shared fixtures: an isolated environment, recorded fixtures, a real Apache Kafka broker for the session."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from newsmon.config import Settings, load_settings
from newsmon.dev.local_kafka import LocalKafka
from newsmon.dev.local_postgres import LocalPostgres
from newsmon.netguard import NetworkPolicy


def _loopback_only() -> bool:
    return sorted(name for _index, name in socket.if_nameindex()) == ["lo"]


# tests/netns runs only inside a loopback-only network namespace: test_hostile_feeds.py starts it there, and in
# such a namespace it is collected directly. It is never skipped.
collect_ignore = [] if _loopback_only() else ["netns"]

FIXTURES = Path(__file__).parent / "fixtures"
LOOPBACK = NetworkPolicy.from_cidrs(["127.0.0.0/8"])  # the local test servers; the SSRF guard refuses all else
ROOT = Path(__file__).resolve().parent.parent


def _isolate_environment() -> Path:
    """No developer setting leaks in; Prefect keeps its home and database in a temp dir; nothing leaves loopback.

    This runs when this conftest is imported, before any test module is: Prefect reads its settings once, when
    it is first imported, so setting them in a fixture would be too late.
    """
    for key in [k for k in os.environ if k.startswith("NEWSMON_")]:
        del os.environ[key]
    home = Path(tempfile.mkdtemp(prefix="newsmon-tests-prefect-"))
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"  # a cold start in a fresh clone
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    os.environ["NEWSMON_MODELS_DIR"] = str(home / "models")  # the ONNX export is made once for the session
    return home


PREFECT_HOME = _isolate_environment()


@pytest.fixture(autouse=True, scope="session")
def _remove_prefect_home() -> Iterator[None]:
    yield
    shutil.rmtree(PREFECT_HOME, ignore_errors=True)
    # Prefect stops its temporary API server at interpreter exit and says so at INFO, after pytest has closed
    # the captured stdout its console handler writes to: a "Logging error" traceback at the end of every run.
    logging.getLogger("prefect").setLevel(logging.WARNING)


def free_port(pairs: int = 1) -> int:
    """A port p with p..p+2*pairs-1 free on loopback (Kafka needs a broker and a controller port per node)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + 2 * pairs >= 65535:
            continue
        try:
            sockets = []
            for offset in range(2 * pairs):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port + offset))
            return port
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free port range on loopback")


def kafka_cache_dir() -> Path:
    """Kafka's jars are cached across sessions (they are big and never change for one version)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsmon"


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A real single-node Apache Kafka (KRaft) on 127.0.0.1, started once for the whole session."""
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"), kafka_cache_dir(), port=free_port())
    try:
        broker.start(timeout=180)
        yield broker
    finally:  # also when start-up failed half-way
        broker.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A real PostgreSQL server on 127.0.0.1 (Debian's package; ``.ci/run`` installs it), one for the session:
    each test that needs one takes a fresh database of its own (``state_url``)."""
    root = Path(tempfile.mkdtemp(prefix="newsmon-tests-pg-"))  # not under pytest's root-only temp dir
    server = LocalPostgres(root, port=free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


_DATABASES = iter(range(1, 1_000_000))


@pytest.fixture
def state_url(postgres_server: LocalPostgres) -> str:
    """The URL of a fresh, empty PostgreSQL database on the session's server."""
    return postgres_server.create_database(f"test_{os.getpid()}_{next(_DATABASES)}")


@dataclass(frozen=True)
class PrefectServer:
    """A real ``prefect server start`` on loopback, with its own home (database) and log."""

    api_url: str
    log: Path

    def problems(self) -> list[str]:
        """The log's error lines and tracebacks: a healthy server writes none."""
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if "ERROR" in line or "Traceback" in line]


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory, postgres_server: LocalPostgres) -> Iterator[PrefectServer]:
    """One real Prefect server (API, scheduler and the other services) for the whole session, on the session's
    PostgreSQL, as in production (Prefect's maintainers warn that its SQLite database locks under load)."""
    root = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    database = postgres_server.create_database("prefect").replace("postgresql://", "postgresql+asyncpg://", 1)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(root / "home")
    env["PREFECT_API_DATABASE_CONNECTION_URL"] = database
    log = root / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "prefect"),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = PrefectServer(f"http://127.0.0.1:{port}/api", log)
    try:
        _wait_healthy(server, process)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait_healthy(server: PrefectServer, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server start exited: {server.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"prefect server did not answer in {timeout:g} s: {server.log.read_text()[-3000:]}")


@pytest.fixture
def settings_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings rooted in the test's temp dir, with overrides."""

    def make(**overrides: object) -> Settings:
        base: dict[str, object] = {"data_dir": tmp_path / "data", "cache_dir": kafka_cache_dir()}
        base.update(overrides)
        return load_settings(**base)

    return make


FIGURES: list[str] = []


@pytest.fixture
def report() -> Callable[[str], None]:
    """Record a measured figure; all of them are printed at the end of the run (make test shows them)."""

    def add(line: str) -> None:
        print(line)
        FIGURES.append(line.strip())

    return add


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("measured figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
