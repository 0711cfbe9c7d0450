"""What a deployment's run relies on, wherever its worker was started: ``prefect.yaml`` names the installed flow,
caps each deployment at one cycle at a time, and its relative config file resolves to newsmon's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.flows import load_flow_from_entrypoint

from flows.monitor import cycle_settings, monitor_cycle
from newsmon.config import PROJECT_ROOT

PROJECT = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())


def test_every_deployment_runs_the_installed_monitor_flow_one_cycle_at_a_time_on_the_process_pool() -> None:
    deployments = PROJECT["deployments"]
    assert len(deployments) >= 2  # two cycle slots: they split the feeds through the state's leases
    assert len({d["name"] for d in deployments}) == len(deployments)
    for deployment in deployments:
        assert load_flow_from_entrypoint(deployment["entrypoint"]).name == monitor_cycle.name
        assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
        assert deployment["work_pool"]["name"] == "newsmon"
        assert deployment["schedules"][0]["interval"] >= 60
        assert (PROJECT_ROOT / deployment["parameters"]["config_file"]).is_file()
    assert PROJECT["pull"] == []  # no step that ties a worker to the deploying machine's folder


def test_a_deployment_run_is_retried_and_a_cli_cycle_is_not() -> None:
    assert monitor_cycle.retries == 1 and monitor_cycle.retry_delay_seconds == 60
    assert monitor_cycle.with_options(retries=0).retries == 0


def test_a_relative_config_file_resolves_from_the_working_directory_first_then_newsmons_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a worker started anywhere
    live = cycle_settings("config/live.yaml", None)
    assert len(live.feeds) >= 10  # newsmon's own config/live.yaml
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "live.yaml").write_text(yaml.safe_dump({"poll_interval_seconds": 123}))
    assert cycle_settings("config/live.yaml", None).poll_interval_seconds == 123  # the working directory's wins
    assert cycle_settings(None, "broker:9092").kafka_bootstrap == "broker:9092"


@pytest.mark.integration
def test_a_flow_run_called_in_this_process_sends_no_heartbeats_and_a_deployments_run_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Heartbeats tell a server that a deployment's run crashed; ending a run joins their thread, which sleeps
    in whole seconds (0.5 s a cycle on average). ``newsmon run``, ``serve`` without a server and ``replay`` call
    their flows in process, where nobody needs them."""
    import prefect.flow_engine
    from prefect import flow

    from flows.local import in_process

    real = prefect.flow_engine._send_heartbeats
    intervals: list[int | None] = []

    def spy(engine: Any, *args: Any, **kwargs: Any) -> Any:
        intervals.append(engine.heartbeat_seconds)
        return real(engine, *args, **kwargs)

    monkeypatch.setattr(prefect.flow_engine, "_send_heartbeats", spy)

    @flow(name="newsmon-heartbeat-probe")
    def probe() -> int:
        return 1

    with in_process():
        assert probe() == 1
    assert probe() == 1  # as a worker runs a deployment's flow: Prefect's default
    assert intervals[0] is None and isinstance(intervals[-1], int) and intervals[-1] >= 30


def test_in_process_keeps_every_other_setting_in_force_and_makes_its_own_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``serve`` enters the block every cycle; Prefect validates its whole settings tree to make changed
    settings, so they are made once per settings in force, and a block inside other temporary settings keeps
    them."""
    from prefect.settings import PREFECT_API_URL, Settings, get_current_settings, temporary_settings

    from flows.local import in_process

    copies: list[object] = []
    real = Settings.copy_with_update

    def counting(self: Settings, *args: Any, **kwargs: Any) -> Settings:
        copies.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Settings, "copy_with_update", counting)
    for _ in range(3):
        with in_process():
            assert get_current_settings().flows.heartbeat_frequency is None
    assert len(copies) <= 1  # none when an earlier block in this process made them
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        copies.clear()
        with in_process():
            assert get_current_settings().api.url == "http://127.0.0.1:9/api"
            assert get_current_settings().flows.heartbeat_frequency is None
        assert len(copies) == 1
    with in_process():
        assert get_current_settings().api.url != "http://127.0.0.1:9/api"


@pytest.mark.integration
def test_a_task_argument_passed_as_is_reaches_the_task_unwalked_and_unchanged() -> None:
    """Prefect walks every element of a task's arguments; the monitor's (its settings with every feed, a batch's
    fetched documents) are passed as they are, the very object, never visited element by element."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    from flows.local import in_process
    from flows.monitor import as_is

    class Untouchable(list[int]):
        def __iter__(self) -> Any:
            raise AssertionError("Prefect walked the argument")

    @task(cache_policy=NO_CACHE)
    def identity(value: Untouchable) -> int:
        return id(value)

    @flow(name="newsmon-as-is-probe")
    def probe() -> bool:
        value = Untouchable([1, 2, 3])
        return identity(as_is(value)) == id(value)

    with in_process():
        assert probe()
