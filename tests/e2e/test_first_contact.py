"""What a new user sees: ``make run``'s commands, exactly as the Makefile has them, on a fresh data dir (the local
Kafka broker started from nothing, the encoder exported for this machine, the demo feeds, the alerts printed). A
run that succeeds says nothing alarming: no ERROR, no Traceback, no Warning line; the one-time export says it
is working."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from newsmon.config import PROJECT_ROOT

from ..conftest import free_port

pytestmark = pytest.mark.e2e

ALARMING = re.compile(r"ERROR|Traceback|Warning|WARNING")


def _make_run_commands() -> list[list[str]]:
    """The recipe lines of the Makefile's ``run`` target, each a newsmon command."""
    lines = (PROJECT_ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("run:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().replace("$(BIN)/newsmon", "newsmon").split())
    assert recipe and all(words[0] == "newsmon" for words in recipe), recipe
    return recipe


def test_make_run_on_a_fresh_data_dir_succeeds_and_says_nothing_alarming(tmp_path: Path) -> None:
    seeds = shutil.copytree(PROJECT_ROOT / "seeds", tmp_path / "seeds")  # seeds build may write topics files
    env = {
        **os.environ,
        "NEWSMON_DATA_DIR": str(tmp_path / "data"),
        "NEWSMON_SEEDS_DIR": str(seeds),
        "NEWSMON_KAFKA_LOCAL_PORT": str(free_port()),
        "NEWSMON_DEMO_FEEDS_PORT": str(free_port()),
    }
    env.pop("PREFECT_HOME")  # a new user's: under the data dir
    env.pop("NEWSMON_MODELS_DIR")  # a new user's too: the encoder is exported and quantised on this first run
    newsmon = str(Path(sys.executable).parent / "newsmon")
    outputs = []
    try:
        for command in _make_run_commands():
            done = subprocess.run(
                [newsmon, *command[1:]], env=env, capture_output=True, text=True, timeout=600, check=False
            )
            outputs.append((command, done.returncode, done.stdout + done.stderr))
    finally:
        subprocess.run([newsmon, "kafka", "stop"], env=env, capture_output=True, timeout=120, check=False)
    for command, code, output in outputs:
        assert code == 0, f"{' '.join(command)}: exit {code}\n{output[-3000:]}"
        alarming = [line for line in output.splitlines() if ALARMING.search(line)]
        assert alarming == [], f"{' '.join(command)}:\n" + "\n".join(alarming[:20])
    run_output = outputs[1][2]
    assert len(re.findall(r"cycle [0-9a-f]{8}: ", run_output)) == 1, run_output[-3000:]  # the summary, once
    assert "relevance" in outputs[2][2] or "why:" in outputs[2][2]  # the alerts were printed
    said = "".join(output for _, _, output in outputs)
    assert said.count("preparing the encoder for this machine") == 1, said[-3000:]  # the one-time export, said once
