#!/usr/bin/env bash
# The whole suite, as `make test` runs it (tests/conftest.py marks which test goes where):
#   1. side by side: the `serial` tests one after another in one pytest process, and the rest on two
#      pytest-xdist workers (a file per worker, so its module fixtures are made once);
#   2. then the `exclusive` tests alone (they restart this host's dockerd or make it a Swarm manager).
# Every phase runs; the exit status is 1 when any of them failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTEST=${PYTEST:-.venv/bin/pytest}
TMP_ROOT=$(mktemp -d /tmp/dockyard-tests.XXXXXX)
trap 'rm -rf "$TMP_ROOT"' EXIT

"$PYTEST" -q -ra --durations=10 -m serial --basetemp "$TMP_ROOT/serial" tests >"$TMP_ROOT/serial.log" 2>&1 &
serial_pid=$!
"$PYTEST" -q -ra --durations=15 -n 2 --dist loadfile -m "not serial and not exclusive" \
    --basetemp "$TMP_ROOT/shared" tests
shared=$?
wait "$serial_pid"
serial=$?
echo "---------------- the serial tests (they ran beside the ones above) ----------------"
cat "$TMP_ROOT/serial.log"
"$PYTEST" -q -ra --durations=10 -m exclusive --basetemp "$TMP_ROOT/exclusive" tests
exclusive=$?
echo "make test: shared $shared, serial $serial, exclusive $exclusive (0 is a pass)"
(( shared == 0 && serial == 0 && exclusive == 0 ))
