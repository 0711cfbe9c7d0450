"""The CLI surface: --help everywhere, no torch at import, readable errors with exit code 1."""

from __future__ import annotations

import subprocess
import sys

import pytest

from newsmon.cli import app

COMMANDS = [
    [],
    ["run"],
    ["serve"],
    ["tail"],
    ["seeds"],
    ["seeds", "build"],
    ["seeds", "list"],
    ["kafka"],
    ["kafka", "start"],
    ["kafka", "stop"],
    ["kafka", "status"],
    ["feeds"],
    ["feeds", "status"],
]


def _newsmon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsmon", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_top_level_help_lists_the_main_commands() -> None:
    result = _newsmon("--help")
    assert result.returncode == 0
    for name in ("run", "serve", "tail", "seeds", "kafka"):
        assert f" {name} " in result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "newsmon")
def test_every_command_has_help(command: list[str]) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_importing_the_cli_does_not_load_torch_or_prefect() -> None:
    code = "import sys, newsmon.cli; print('torch' in sys.modules, 'prefect' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_bad_config_is_a_readable_error_with_exit_code_1(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("fetch_timeout_seconds: -3\n")
    result = _newsmon("feeds", "status", "--config", str(bad))
    assert result.returncode == 1
    assert "error:" in result.stderr and "fetch_timeout_seconds" in result.stderr
    assert "Traceback" not in result.stderr
