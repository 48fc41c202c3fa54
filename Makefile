# Dockyard: the two commands a new machine needs are `make demo` and `make test`.
# Both set up what is missing (Debian packages, dockerd, etcd, two registries) first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup setup-tests venv demo test unit integration e2e bench lint clean-test

# What the demo needs: the engine, etcd, registries, nginx, the base image.
setup:
	bash scripts/setup.sh all

# The same, plus what only the test suite needs (prometheus, rsyslog, ...).
setup-tests:
	bash scripts/setup.sh all --tests

$(BIN)/dockyard: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(BIN)/dockyard

demo: setup venv
	bash scripts/demo.sh

# scripts/test.sh: the serial tests beside the rest (two workers), then the exclusive ones alone.
test: setup-tests venv
	PYTEST=$(BIN)/pytest PYTHON=$(BIN)/python bash scripts/test.sh

unit: venv
	$(BIN)/pytest -q tests/unit

integration: setup-tests venv
	$(BIN)/pytest -q tests/integration

e2e: setup-tests venv
	$(BIN)/pytest -q tests/e2e

bench: setup-tests venv  # the benches use the tests' helpers and tools (hey)
	$(BIN)/python bench/cli.py
	$(BIN)/python bench/deploy.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/metrics.py
	$(BIN)/python bench/agent.py
	$(BIN)/python bench/server.py
	$(BIN)/python bench/logs.py
	$(BIN)/python bench/bluegreen.py
	$(BIN)/python bench/autoscale.py
	$(BIN)/python bench/edge.py
	$(BIN)/python bench/edge_proxies.py
	$(BIN)/python bench/backup.py
	$(BIN)/python bench/dashboard.py

lint: venv
	$(BIN)/ruff check dockyard tests bench
	$(BIN)/mypy dockyard tests/fakes
