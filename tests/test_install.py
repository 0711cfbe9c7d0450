"""What an install carries: no triton anywhere (torch's GPU compiler, 1 GB, never imported on a CPU), and an image
without torch's CUDA packages (about 3 GB), with torch at the locked version from PyTorch's CPU-only index."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from newsmon.config import PROJECT_ROOT

CUDA = re.compile(r"^(torch|triton|nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+)==")


def _locked_torch() -> str:
    lock = tomllib.loads((PROJECT_ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == "torch")


def test_triton_is_not_installed_and_the_encoders_need_it_not() -> None:
    assert importlib.util.find_spec("triton") is None  # tests/test_encoder_backends.py runs all three without it
    lock = tomllib.loads((PROJECT_ROOT / "uv.lock").read_text())
    torch = next(p for p in lock["package"] if p["name"] == "torch")
    assert {"name": "triton", "marker": "sys_platform == 'never'"} in torch["dependencies"]


def test_the_images_requirements_are_the_lock_without_cuda_and_torch_from_the_cpu_index(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # uv, as in the image
    script = PROJECT_ROOT / "scripts" / "cpu_requirements.sh"
    subprocess.run([str(script), str(tmp_path)], cwd=PROJECT_ROOT, env=env, check=True, timeout=120)
    pins = [line for line in (tmp_path / "cpu.txt").read_text().splitlines() if "==" in line and line[0].isalnum()]
    locked = [line for line in (tmp_path / "locked.txt").read_text().splitlines() if "==" in line and line[0].isalnum()]
    assert not [p for p in pins if CUDA.match(p)]
    assert sorted(pins) == sorted(p for p in locked if not CUDA.match(p))  # everything else, at its locked version
    assert any(p.startswith("nvidia-cublas==") for p in locked)  # the filter had something to remove
    assert (tmp_path / "torch.txt").read_text().strip() == f"torch=={_locked_torch()}"
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "scripts/cpu_requirements.sh /tmp" in dockerfile and "-r /tmp/cpu.txt" in dockerfile
    assert "--no-deps --index-url https://download.pytorch.org/whl/cpu -r /tmp/torch.txt" in dockerfile
    assert "uv sync" not in dockerfile  # which would install the CUDA build again
