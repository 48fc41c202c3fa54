#!/usr/bin/env bash
# The whole suite, as `make test` runs it (tests/conftest.py marks which test goes where):
#   1. side by side:
#      - the `own_engine` tests in a network namespace with a dockerd of their own (tests/lane.py):
#        they restart it or make it a Swarm manager, out of the other lanes' reach;
#      - the `serial` tests one after another in one pytest process;
#      - the rest on two pytest-xdist workers (a file per worker, so its module fixtures are made once);
#   2. then the `exclusive` tests alone (they time what a load sees).
# Every phase runs; the exit status is 1 when any of them failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTEST=${PYTEST:-.venv/bin/pytest}
PYTHON=${PYTHON:-.venv/bin/python}
TMP_ROOT=$(mktemp -d /tmp/dockyard-tests.XXXXXX)
# Bytecode for every `dockyard` the tests start, even where PYTHONDONTWRITEBYTECODE is set (as on these
# machines): else each of those processes compiles Dockyard's modules from source again.
"$PYTHON" -m compileall -q dockyard tests >/dev/null
trap 'rm -rf "$TMP_ROOT"' EXIT

"$PYTHON" -m tests.lane dy-lane-engine -- "$PYTEST" -q -ra --durations=10 -m own_engine \
    --basetemp "$TMP_ROOT/own" tests >"$TMP_ROOT/own.log" 2>&1 &
own_pid=$!
"$PYTEST" -q -ra --durations=10 -m serial --basetemp "$TMP_ROOT/serial" tests >"$TMP_ROOT/serial.log" 2>&1 &
serial_pid=$!
"$PYTEST" -q -ra --durations=15 -n 2 --dist loadfile -m "not serial and not exclusive and not own_engine" \
    --basetemp "$TMP_ROOT/shared" tests
shared=$?
wait "$serial_pid"
serial=$?
wait "$own_pid"
own=$?
echo "---------------- the serial tests (they ran beside the ones above) ----------------"
cat "$TMP_ROOT/serial.log"
echo "---------------- the own-engine tests (they ran beside the ones above, in their own namespace) ----"
cat "$TMP_ROOT/own.log"
"$PYTEST" -q -ra --durations=10 -m exclusive --basetemp "$TMP_ROOT/exclusive" tests
exclusive=$?
echo "make test: shared $shared, serial $serial, own engine $own, exclusive $exclusive (0 is a pass)"
(( shared == 0 && serial == 0 && own == 0 && exclusive == 0 ))
