"""docker-compose.yml parses, has the designed services, and every command it runs exists."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from newsmon.config import PROJECT_ROOT, load_settings

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
NEWSMON = str(Path(shutil.which("newsmon") or PROJECT_ROOT / ".venv/bin/newsmon"))


CONSUMERS = ("newsmon-tail", "newsmon-archive", "newsmon-digest", "newsmon-webhook")


def test_the_stack_has_kafka_prefect_postgres_worker_and_consumers() -> None:
    services = COMPOSE["services"]
    assert {"kafka", "postgres", "prefect-server", "newsmon-worker", *CONSUMERS} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert "KAFKA_PROCESS_ROLES" in services["kafka"]["environment"]  # KRaft, no ZooKeeper
    assert "postgresql" in services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert services["prefect-server"]["image"] == services["newsmon-worker"]["image"]  # the locked Prefect + SQLAlchemy
    for name in ("newsmon-worker", *CONSUMERS):
        assert services[name]["environment"]["NEWSMON_KAFKA_BOOTSTRAP"] == "kafka:9092"
    for name in CONSUMERS:
        assert services[name]["command"][1:3] == ["consume", name.removeprefix("newsmon-")]


def _help(command: list[str]) -> subprocess.CompletedProcess[str]:
    options = [i for i, word in enumerate(command) if word.startswith("-")]
    words = command[: options[0]] if options else command
    executable = NEWSMON if words[0] == "newsmon" else str(PROJECT_ROOT / ".venv/bin" / words[0])
    return subprocess.run([executable, *words[1:], "--help"], capture_output=True, text=True, timeout=120, check=False)


def test_every_command_exists_and_accepts_its_options() -> None:
    commands = [s["command"] for s in COMPOSE["services"].values() if "command" in s]
    assert len(commands) >= 3
    for command in commands:
        result = _help(command)
        assert result.returncode == 0, f"{command}: {result.stderr[-500:]}"
        for option in (w for w in command if w.startswith("--")):
            assert option in result.stdout, f"{command}: {option} unknown"


def test_the_worker_config_file_exists_and_is_valid() -> None:
    worker = COMPOSE["services"]["newsmon-worker"]["command"]
    config = PROJECT_ROOT / worker[worker.index("--config") + 1]
    assert len(load_settings(config).feeds) >= 10
    assert (PROJECT_ROOT / "Dockerfile").exists()
