#!/bin/sh
# The locked runtime dependencies for a CPU-only install (the Docker image): everything uv.lock pins except
# torch's CUDA build and its CUDA packages (nvidia-*, cuda-*: about 3 GB a CPU never loads). torch itself is pinned to
# the locked version, to be installed from PyTorch's CPU-only index.
#   scripts/cpu_requirements.sh OUT_DIR   writes OUT_DIR/cpu.txt (pip requirements) and OUT_DIR/torch.txt (the pin)
set -eu
out=${1:?usage: scripts/cpu_requirements.sh OUT_DIR}
uv export --frozen --no-dev --no-hashes --no-emit-project --quiet -o "$out/locked.txt"
grep -vE '^(torch|triton|nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+)==' "$out/locked.txt" > "$out/cpu.txt"
grep -E '^torch==' "$out/locked.txt" | cut -d' ' -f1 > "$out/torch.txt"
test -s "$out/torch.txt" || { echo "uv.lock pins no torch" >&2; exit 1; }
