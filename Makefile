# Everything a person runs. `make run` and `make test` set everything up on first use.
SHELL := /bin/bash
VENV := .venv
UV := $(VENV)/bin/uv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced
UV_VERSION := 0.13.9
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
# Prefect's temporary API server can take longer than its 20 s default to start cold on 2 busy cores
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: setup run test test-fast test-faults test-hostile lint format bench bench-encoders bench-scale bench-cycle kafka-up kafka-down clean

$(STAMP): pyproject.toml uv.lock
	@test -x $(UV) || { python3 -m venv $(VENV) && $(BIN)/pip install -q "uv==$(UV_VERSION)"; }
	$(UV) sync --frozen --compile-bytecode
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv with the locked dependencies

run: setup  ## topics for any new seed article, one monitoring cycle on the bundled recorded feeds, then the alerts
	$(BIN)/newsmon seeds build
	$(BIN)/newsmon run --once --demo
	$(BIN)/newsmon tail --group newsmon-make-run --from-beginning --idle-timeout 5

lint: setup  ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint  ## the whole suite: unit, property, integration (real Kafka), end-to-end
	$(BIN)/pytest

test-faults: setup  ## the fault tests alone: SIGKILLs against a 3-node Kafka cluster, the pipeline and consumers
	$(BIN)/pytest -s -m faults

test-fast: setup  ## unit and property tests only
	$(BIN)/pytest -m "not integration and not e2e and not model and not faults"

test-hostile: setup  ## the hostile-server suite alone, with its figures, in a loopback-only network namespace
	unshare --net $(if $(filter 0,$(shell id -u)),,--map-root-user) sh -c 'ip link set lo up && exec $(BIN)/pytest tests/netns -s -p no:cacheprovider'

bench-encoders: setup  ## encoder backends: speed, cosine and alert agreement against torch fp32
	$(BIN)/python scripts/bench_encoders.py

bench-scale: setup  ## 10,000 loopback feeds, 1/2/4 workers, SQLite vs PostgreSQL (about 10 min)
	$(BIN)/python scripts/bench_scale.py

bench-cycle: setup  ## the whole cycle through the real flow and broker: cold, warm, no change, memory over 100 cycles
	$(BIN)/python scripts/bench_cycle.py

bench: setup  ## benchmarks: print ratios measured in one run
	$(BIN)/python scripts/bench_fetch.py

kafka-up: setup
	$(BIN)/newsmon kafka start

kafka-down: setup
	$(BIN)/newsmon kafka stop

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
