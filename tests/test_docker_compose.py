"""docker-compose.yml parses, has the designed services, and every command it runs, variable it sets and file it
names exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import prefect.settings
import yaml

from newsmon.config import PROJECT_ROOT, Settings, load_settings

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
NEWSMON = str(Path(shutil.which("newsmon") or PROJECT_ROOT / ".venv/bin/newsmon"))


CONSUMERS = ("newsmon-tail", "newsmon-archive", "newsmon-digest", "newsmon-webhook")


def test_the_stack_has_kafka_prefect_postgres_workers_and_consumers() -> None:
    services = COMPOSE["services"]
    assert {"kafka", "postgres", "prefect-server", "newsmon-deploy", "newsmon-worker", *CONSUMERS} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert "KAFKA_PROCESS_ROLES" in services["kafka"]["environment"]  # KRaft, no ZooKeeper
    assert "postgresql" in services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert services["prefect-server"]["image"] == services["newsmon-worker"]["image"]  # the locked Prefect + SQLAlchemy
    for name in ("newsmon-worker", *CONSUMERS):
        assert services[name]["environment"]["NEWSMON_KAFKA_BOOTSTRAP"] == "kafka:9092"
    for name in CONSUMERS:
        assert services[name]["command"][1:3] == ["consume", name.removeprefix("newsmon-")]


def test_two_workers_share_one_postgresql_state_on_the_pool_prefect_yaml_deploys_to() -> None:
    services = COMPOSE["services"]
    worker = services["newsmon-worker"]
    assert worker["deploy"]["replicas"] >= 2
    state = load_settings(None, state_url=worker["environment"]["NEWSMON_STATE_URL"])
    assert state.shared_state
    database = state.state_url.rsplit("/", 1)[1]
    init = COMPOSE["configs"][services["postgres"]["configs"][0]["source"]]["content"]
    assert f"CREATE DATABASE {database};" in init  # the database the workers share exists
    pools = {d["work_pool"]["name"] for d in yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())["deployments"]}
    assert pools == {worker["command"][worker["command"].index("--pool") + 1]}
    assert services["newsmon-pool"]["command"][3] in pools
    assert worker["depends_on"]["newsmon-deploy"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_dependency_a_service_waits_for_is_healthy_or_done() -> None:
    services = COMPOSE["services"]
    for name, service in services.items():
        for needed, wait in (service.get("depends_on") or {}).items():
            if wait["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], f"{name} waits for {needed}, which has no healthcheck"
            else:
                assert wait["condition"] == "service_completed_successfully", f"{name} waits for {needed} to start"


def test_every_variable_it_sets_is_read_by_newsmon_or_prefect() -> None:
    """A misspelt variable is silently ignored by the container: each must be a newsmon setting, the environment
    variable of a command's argument (shown in its --help), or a Prefect setting."""
    services = COMPOSE["services"]
    uses = {
        (variable, name)
        for name, service in [("x-newsmon", COMPOSE["x-newsmon"]), *services.items()]
        for variable in service.get("environment") or {}
        if re.match(r"(NEWSMON|PREFECT)_", variable)
    }
    assert len(uses) >= 5
    fields = set(Settings.model_fields)
    for variable, name in uses:
        if variable.startswith("PREFECT_"):
            assert hasattr(prefect.settings, variable), f"{name}: {variable} is no Prefect setting"
        elif variable.removeprefix("NEWSMON_").lower() not in fields:
            command = services.get(name, {}).get("command", ["newsmon"])
            assert f"env var: {variable}" in _help(command).stdout, f"{name}: {variable} is read by nothing"


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


def test_the_deployed_config_file_exists_and_is_valid() -> None:
    deploy = COMPOSE["services"]["newsmon-deploy"]["command"]
    project = yaml.safe_load(
        (PROJECT_ROOT / deploy[deploy.index("--prefect-file") + 1].removeprefix("/app/")).read_text()
    )
    for deployment in project["deployments"]:
        assert len(load_settings(PROJECT_ROOT / deployment["parameters"]["config_file"]).feeds) >= 10
    assert (PROJECT_ROOT / "Dockerfile").exists()
