#!/bin/sh
# Unit test of the hello image, run INSIDE the built image:
#   docker run --rm IMAGE sh /www/test.sh
# Checks the files are in place, the CGI runs and never shows a secret,
# and httpd really serves /health, / and /cgi-bin/info.
passed=0
failed=0
check() {   # check NAME CMD...
    name=$1; shift
    if "$@" >/dev/null 2>&1; then
        passed=$((passed + 1)); echo "ok - $name"
    else
        failed=$((failed + 1)); echo "not ok - $name"
    fi
}

check "index.html is there" test -s /www/index.html
check "health file says ok" grep -qx ok /www/health
check "CGI is executable" test -x /www/cgi-bin/info
check "VERSION baked in" test -s /app/VERSION
check "httpd applet exists" sh -c 'command -v httpd'

out=$(DOMAIN=unit.test DB_HOST=db.unit GREETING=hi DOCKYARD_ENV=unit APP_VERSION=9.9.9 \
      DB_PASSWORD=sup3r-s3cret REQUEST_METHOD=GET /www/cgi-bin/info 2>/dev/null)
check "CGI prints a header" sh -c 'echo "$1" | head -1 | grep -q "^Content-Type: text/plain"' _ "$out"
check "CGI shows the version" sh -c 'echo "$1" | grep -qx "version: 9.9.9"' _ "$out"
check "CGI shows the environment" sh -c 'echo "$1" | grep -qx "environment: unit"' _ "$out"
check "CGI shows DOMAIN" sh -c 'echo "$1" | grep -qx "  DOMAIN=unit.test"' _ "$out"
check "CGI shows DB_HOST" sh -c 'echo "$1" | grep -qx "  DB_HOST=db.unit"' _ "$out"
check "CGI never shows the secret" sh -c '! echo "$1" | grep -q sup3r-s3cret' _ "$out"

out=$(env -u APP_VERSION REQUEST_METHOD=GET /www/cgi-bin/info 2>/dev/null)
check "CGI falls back to the baked VERSION" sh -c 'echo "$1" | grep -qx "version: $(cat /app/VERSION)"' _ "$out"

# Serve for real on a spare port inside this container.
port=18080
httpd -f -p "127.0.0.1:$port" -h /www &
pid=$!
i=0
until timeout 2 wget -qO /dev/null "http://127.0.0.1:$port/health" 2>/dev/null || [ $i -ge 25 ]; do
    sleep 0.2; i=$((i + 1))
done
check "GET /health is ok" sh -c "timeout 3 wget -qO- http://127.0.0.1:$port/health | grep -qx ok"
check "GET / is the index" sh -c "timeout 3 wget -qO- http://127.0.0.1:$port/ | grep -q 'Hello from Dockyard'"
check "GET /cgi-bin/info runs the CGI" sh -c "timeout 3 wget -qO- http://127.0.0.1:$port/cgi-bin/info | grep -q '^app: hello'"
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

echo "hello unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
