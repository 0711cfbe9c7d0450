# newsmon worker and consumers. Build: docker build -t newsmon .
# CPU only: the locked dependencies without torch's CUDA packages (about 3 GB no CPU loads); torch itself at the
# locked version from PyTorch's CPU-only index (scripts/cpu_requirements.sh). triton is left out by uv.lock.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir "uv==0.13.9" && uv venv /opt/venv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY scripts/cpu_requirements.sh scripts/
RUN scripts/cpu_requirements.sh /tmp \
 && uv pip install --no-cache --compile-bytecode -r /tmp/cpu.txt \
 && uv pip install --no-cache --compile-bytecode --no-deps --index-url https://download.pytorch.org/whl/cpu -r /tmp/torch.txt
COPY . .
RUN uv pip install --no-cache --no-deps -e .
CMD ["newsmon", "--help"]
