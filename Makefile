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

# Two phases (tests/conftest.py says which test goes where): the suite on three workers, with the
# tests that must not overlap one after another on one of them; then the `exclusive` ones alone
# (they restart dockerd). Both always run; either failing fails the target.
test: setup-tests venv
	$(BIN)/pytest -q -ra --durations=15 -n 3 --dist loadgroup -m "not exclusive" tests; shared=$$?; \
	$(BIN)/pytest -q -ra --durations=15 -m exclusive tests; exclusive=$$?; \
	test $$shared = 0 -a $$exclusive = 0

unit: venv
	$(BIN)/pytest -q tests/unit

integration: setup-tests venv
	$(BIN)/pytest -q tests/integration

e2e: setup-tests venv
	$(BIN)/pytest -q tests/e2e

bench: setup-tests venv  # the benches use the tests' helpers and tools (hey)
	$(BIN)/python bench/deploy.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/metrics.py
	$(BIN)/python bench/logs.py
	$(BIN)/python bench/bluegreen.py
	$(BIN)/python bench/autoscale.py
	$(BIN)/python bench/edge.py
	$(BIN)/python bench/edge_proxies.py
	$(BIN)/python bench/backup.py
	$(BIN)/python bench/dashboard.py

lint: venv
	$(BIN)/ruff check dockyard tests bench
	$(BIN)/mypy dockyard
