#!/usr/bin/env bash
# Dockyard machine set-up: install and start the real parts Dockyard drives.
#
#   scripts/setup.sh [all|install|start|stop|status|requirements] [--tests]
#
# Meant for a fresh Debian 12 machine, run as root, with no systemd. Used by
# `make demo` (what the demo needs), `make test` and CI (`--tests`: also what
# only the test suite needs). Idempotent: a second run notices what is
# installed and what already answers, and finishes in about a second.
#
#   install  apt-get the packages (skipped entirely when every binary is there)
#   start    dockerd, etcd (127.0.0.1:2379), registries (127.0.0.1:5000, :5001),
#            and the local base images dockyard/busybox:1.35 (FROM scratch) and dockyard/redis:7.0
#   stop     stop only what this script started (PID files in /var/run/dockyard)
#   status   one line per service, exit 1 if any does not answer
#   requirements  the table below, one "binary package group" a line
#                 (tests/unit/test_setup_requirements.py checks it with dpkg -S)
#
# Environment overrides: DOCKYARD_LOG_DIR, DOCKYARD_RUN_DIR, DOCKYARD_LIB_DIR,
# SETUP_WAIT (seconds to wait for each service, default 30).
set -euo pipefail

LOG_DIR=${DOCKYARD_LOG_DIR:-/var/log/dockyard}
RUN_DIR=${DOCKYARD_RUN_DIR:-/var/run/dockyard}
LIB_DIR=${DOCKYARD_LIB_DIR:-/var/lib/dockyard}
WAIT=${SETUP_WAIT:-30}

ETCD_CLIENT=127.0.0.1:2379
ETCD_PEER=127.0.0.1:2380
REGISTRY_PORTS=(5000 5001)
BASE_IMAGE=dockyard/busybox:1.35
REDIS_IMAGE=dockyard/redis:7.0

# The Debian packages set-up installs: what `make demo` needs, and what only the test suite adds
# (`--tests`). Written out here so anyone reading the script sees them; the table below says which
# binary each one is for, and tests/unit/test_setup_requirements.py checks both against dpkg.
APT_PACKAGES=(docker.io docker-registry etcd-server nginx haproxy busybox-static git openssl iproute2 curl
              redis-server redis-tools ca-certificates python3-venv)
APT_TEST_PACKAGES=(prometheus rsyslog systemd pebble hey zstd chromium chromium-driver postgresql-15
                   postgresql-client-15)

# Each binary something runs, the package above that ships it, and who needs it (demo: `make demo`
# and everything Dockyard itself runs; test: only the test suite).
REQUIREMENTS=(
    # binary         package          group   used by
    "dockerd         docker.io        demo"   # the engine
    "docker          docker.io        demo"   # the base image build below
    "docker-registry docker-registry  demo"   # the local and remote registries
    "etcd            etcd-server      demo"   # the config store
    "nginx           nginx            demo"   # blue/green balancers (dockyard/router)
    "haproxy         haproxy          demo"   # the host's edge (dockyard/router/edge.py)
    "busybox         busybox-static   demo"   # the FROM scratch base image
    "git             git              demo"   # builds and pipelines read commits
    "openssl         openssl          demo"   # scripts/tls-dockerd.sh certificates
    "ip              iproute2         demo"   # scripts/tls-dockerd.sh bridge
    "curl            curl             demo"   # health checks in this script and the demo
    "prometheus      prometheus       test"   # scrapes the agent in tests/integration/monitor
    "rsyslogd        rsyslog          test"   # the syslog sink in tests/integration/logs
    "systemd-analyze systemd          test"   # verifies scripts/systemd/*.service in tests/unit
    "pebble          pebble           test"   # the ACME test CA of tests/integration/edge
    "pebble-challtestsrv pebble       test"   # its DNS, naming every test domain 127.0.0.1
    "hey             hey              test"   # bounded HTTP load in bench/edge.py
    "redis-server    redis-server     demo"   # the image dockyard/redis:7.0 (the example's cache, the tests' store)
    "redis-cli       redis-tools      demo"   # in that image: its health check
    "zstd            zstd             test"   # tar | zstd by hand, the peer of bench/backup.py
    "chromium        chromium         test"   # the dashboard's browser tests (tests/integration/server)
    "chromedriver    chromium-driver  test"   # selenium drives chromium through it
    # PostgreSQL 15's own binaries are not on PATH (Debian's wrappers are): named by their path
    "/usr/lib/postgresql/15/bin/postgres postgresql-15 test"  # FROM scratch PostgreSQL (tests/datastores.py)
    "/usr/lib/postgresql/15/bin/psql postgresql-client-15 test"  # in it and in the e2e app's image
)
# ca-certificates (the CA bundle) and python3-venv (`python3 -m venv` in the Makefile) ship no binary
# of the table; missing_packages checks them by what they provide.

WITH_TESTS=0

# requirement_rows: the table's rows for the groups asked for (demo, plus test with --tests).
requirement_rows() {
    local row binary package group
    for row in "${REQUIREMENTS[@]}"; do
        read -r binary package group <<<"$row"
        if [[ $group == demo ]] || (( WITH_TESTS )); then printf '%s %s %s\n' "$binary" "$package" "$group"; fi
    done
}

apt_packages() {
    printf '%s\n' "${APT_PACKAGES[@]}"
    if (( WITH_TESTS )); then printf '%s\n' "${APT_TEST_PACKAGES[@]}"; fi
}

export DEBIAN_FRONTEND=noninteractive
export DOCKER_BUILDKIT=0   # Debian 12 has no buildx: use the legacy builder

say() { printf '%s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

# fail_start NAME LOGFILE: the clear failure message with the end of the log.
fail_start() {
    local name=$1 log=$2
    {
        printf 'setup: %s did not start; see %s\n' "$name" "$log"
        if [[ -f $log ]]; then
            printf -- '--- last lines of %s ---\n' "$log"
            tail -n 12 "$log"
        fi
    } >&2
    exit 1
}

# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds or time runs out.
wait_for() {
    local secs=$1; shift
    local deadline=$(( $(date +%s) + secs ))
    while true; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        (( $(date +%s) >= deadline )) && return 1
        sleep 0.2
    done
}

# wait_up NAME LOGFILE CMD...: after launch NAME, poll CMD until it succeeds;
# fail at once (with the log) if the daemon exits, or after WAIT seconds.
wait_up() {
    local name=$1 log=$2; shift 2
    local pid deadline=$(( $(date +%s) + WAIT ))
    pid=$(cat "$RUN_DIR/$name.pid")
    while true; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        if [[ ! -d /proc/$pid ]]; then
            rm -f "$RUN_DIR/$name.pid"
            printf 'setup: %s exited while starting\n' "$name" >&2
            fail_start "$name" "$log"
        fi
        (( $(date +%s) >= deadline )) && fail_start "$name" "$log"
        sleep 0.2
    done
}

# pid_alive PIDFILE [COMM]: the process in PIDFILE runs (and is named COMM).
pid_alive() {
    local pidfile=$1 comm=${2:-} pid
    [[ -f $pidfile ]] || return 1
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -d /proc/$pid ]] || return 1
    if [[ -n $comm ]]; then
        [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm"* ]] || return 1
    fi
    return 0
}

# launch NAME LOGFILE CMD...: start CMD detached (own session, no tty, stdin
# from /dev/null), log to LOGFILE, record its PID in RUN_DIR/NAME.pid.
launch() {
    local name=$1 log=$2; shift 2
    mkdir -p "$(dirname "$log")" "$RUN_DIR"
    printf '\n=== %s: starting %s: %s\n' "$(date -Is)" "$name" "$*" >>"$log"
    # setsid does not fork here (the child is not a process-group leader), so $! is the daemon.
    # 9>&- : the daemon must not inherit (and so hold forever) the set-up lock.
    setsid nohup "$@" >>"$log" 2>&1 </dev/null 9>&- &
    echo $! >"$RUN_DIR/$name.pid"
}

docker_bin() {
    if command -v docker >/dev/null 2>&1; then command -v docker
    elif [[ -x /usr/bin/docker ]]; then echo /usr/bin/docker
    else die "no docker client found (install step not run?)"; fi
}

# ---------------------------------------------------------------- install

# missing_packages: the packages of every required binary that is not there, one a line.
missing_packages() {
    local binary package group
    while read -r binary package group; do
        if [[ $binary == busybox ]]; then
            # The base image needs the STATIC busybox (busybox-static), not a dynamic one.
            if [[ ! -x /bin/busybox ]] || ldd /bin/busybox >/dev/null 2>&1; then echo "$package"; fi
        elif [[ $binary == docker ]]; then
            command -v docker >/dev/null 2>&1 || [[ -x /usr/bin/docker ]] || echo "$package"
        else
            command -v "$binary" >/dev/null 2>&1 || echo "$package"
        fi
    done < <(requirement_rows)
    [[ -f /etc/ssl/certs/ca-certificates.crt ]] || echo ca-certificates
    # Only Debian's own python3 needs python3-venv; another python3 (pyenv, a venv) brings its own.
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then echo python3-venv; fi
}

do_install() {
    local missing
    missing=$(missing_packages | sort -u)
    if [[ -z $missing ]]; then
        say "ok  packages (already installed)"
        return 0
    fi
    [[ $(id -u) -eq 0 ]] || die "install needs root (missing: ${missing//$'\n'/ })"
    say "..  installing packages (missing: ${missing//$'\n'/ })"
    local t0=$SECONDS
    # No systemd here: keep package scripts from starting nginx, haproxy, rsyslog,
    # prometheus, etcd or dockerd by themselves (we start what we need below).
    local made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    mkdir -p "$LOG_DIR"
    local rc=0
    {
        apt-get update -q &&
        apt-get install -y -q --no-install-recommends $(apt_packages)
    } >>"$LOG_DIR/apt.log" 2>&1 || rc=$?
    (( made_policy )) && rm -f /usr/sbin/policy-rc.d
    if (( rc != 0 )); then
        printf 'setup: apt-get failed (exit %s); see %s\n' "$rc" "$LOG_DIR/apt.log" >&2
        tail -n 20 "$LOG_DIR/apt.log" >&2
        exit 1
    fi
    missing=$(missing_packages | sort -u)
    [[ -z $missing ]] || die "still missing after apt-get: ${missing//$'\n'/ } (see the table in $0)"
    say "ok  packages installed ($(( SECONDS - t0 )) s)"
}

# ---------------------------------------------------------------- dockerd

docker_answers() { timeout 10 "$(docker_bin)" info >/dev/null 2>&1; }

start_dockerd() {
    if docker_answers; then
        say "ok  dockerd (already running)"
        return 0
    fi
    local log=$LOG_DIR/dockerd.log
    if pid_alive /var/run/docker.pid dockerd; then
        # A dockerd exists but does not answer yet (still starting?): give it time, don't start another.
        wait_for "$WAIT" docker_answers || fail_start dockerd "$log"
        say "ok  dockerd (already running)"
        return 0
    fi
    rm -f /var/run/docker.pid
    launch dockerd "$log" dockerd
    wait_up dockerd "$log" docker_answers
    say "ok  dockerd started (unix:///var/run/docker.sock)"
}

# ---------------------------------------------------------------- etcd

etcd_answers() { curl -fsS -m 2 "http://$ETCD_CLIENT/health" 2>/dev/null | grep -q '"health":"true"'; }

start_etcd() {
    if etcd_answers; then
        say "ok  etcd (already running, $ETCD_CLIENT)"
        return 0
    fi
    local log=$LOG_DIR/etcd.log data=$LIB_DIR/etcd
    mkdir -p "$data"
    chmod 700 "$data"
    launch etcd "$log" etcd \
        --name dockyard \
        --data-dir "$data" \
        --listen-client-urls "http://$ETCD_CLIENT" \
        --advertise-client-urls "http://$ETCD_CLIENT" \
        --listen-peer-urls "http://$ETCD_PEER" \
        --initial-advertise-peer-urls "http://$ETCD_PEER" \
        --initial-cluster "dockyard=http://$ETCD_PEER" \
        --initial-cluster-state new
    wait_up etcd "$log" etcd_answers
    say "ok  etcd started ($ETCD_CLIENT)"
}

# ---------------------------------------------------------------- registries

registry_answers() { [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/v2/") == 200 ]]; }

write_registry_config() {
    local port=$1 dir=$LIB_DIR/registry-$1
    mkdir -p "$dir/data"
    local tmp
    tmp=$(mktemp "$dir/config.yml.XXXXXX")
    cat >"$tmp" <<EOF
# Written by scripts/setup.sh: no auth (Debian's default config turns on htpasswd).
version: 0.1
log:
  level: info
  fields:
    service: registry-$port
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
  secret: dockyard-local-registry-$port
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    if cmp -s "$tmp" "$dir/config.yml"; then rm -f "$tmp"; else mv "$tmp" "$dir/config.yml"; fi
}

start_registry() {
    local port=$1
    write_registry_config "$port"
    if registry_answers "$port"; then
        say "ok  registry (already running, 127.0.0.1:$port)"
        return 0
    fi
    local log=$LOG_DIR/registry-$port.log
    launch "registry-$port" "$log" docker-registry serve "$LIB_DIR/registry-$port/config.yml"
    wait_up "registry-$port" "$log" registry_answers "$port"
    say "ok  registry started (127.0.0.1:$port)"
}

# ---------------------------------------------------------------- base image

build_base_image() {
    local docker
    docker=$(docker_bin)
    if "$docker" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        say "ok  image $BASE_IMAGE (already built)"
        return 0
    fi
    local ctx log=$LOG_DIR/base-image.log
    ctx=$(mktemp -d /tmp/dockyard-base.XXXXXX)
    cp /bin/busybox "$ctx/busybox"
    cat >"$ctx/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$ctx/group" <<'EOF'
root:x:0:
nobody:x:65534:
nogroup:x:65534:
EOF
    cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
COPY passwd group /etc/
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /usr/bin /sbin /usr/sbin /root /tmp /var/tmp && ln -s /bin/busybox /usr/bin/env && chmod 1777 /tmp /var/tmp && chmod 700 /root"]
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL org.dockyard.base="1" \
      org.opencontainers.image.title="dockyard/busybox" \
      org.opencontainers.image.description="FROM scratch + Debian busybox-static 1.35"
CMD ["sh"]
EOF
    build_and_check "$BASE_IMAGE" "$ctx" "$log" "its shell or applets do not work" \
        sh -c 'httpd --help >/dev/null 2>&1; command -v wget nc cat >/dev/null'
}

# build_and_check IMAGE CONTEXT LOG WHAT-FAILS SMOKE-COMMAND...: build the context (then remove it),
# print the log's tail when the build fails, run the smoke command in the image, say it is built.
build_and_check() {
    local image=$1 ctx=$2 log=$3 fails=$4 docker rc=0
    shift 4
    docker=$(docker_bin)
    "$docker" build -q -t "$image" "$ctx" >>"$log" 2>&1 || rc=$?
    rm -rf "$ctx"
    if (( rc != 0 )); then
        printf 'setup: image %s did not build; see %s\n' "$image" "$log" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    "$docker" run --rm "$image" "$@" >/dev/null || die "image $image built but $fails; see $log"
    say "ok  image $image built"
}

# dockyard/redis:7.0: the base image plus Debian's redis-server and redis-cli with every library
# they link (as ldd lists them); /data belongs to nobody (65534), the user it runs as.
build_redis_image() {
    local docker
    docker=$(docker_bin)
    if "$docker" image inspect "$REDIS_IMAGE" >/dev/null 2>&1; then
        say "ok  image $REDIS_IMAGE (already built)"
        return 0
    fi
    local ctx log=$LOG_DIR/redis-image.log file
    ctx=$(mktemp -d /tmp/dockyard-redis.XXXXXX)
    for file in /usr/bin/redis-server /usr/bin/redis-cli $(ldd /usr/bin/redis-server /usr/bin/redis-cli \
            | grep -o '/[^ :]*' | sort -u); do
        mkdir -p "$ctx/rootfs$(dirname "$file")"
        cp -L "$file" "$ctx/rootfs$file"
    done
    mkdir -p "$ctx/data"
    cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE_IMAGE
COPY rootfs/ /
COPY --chown=65534:65534 data /data
USER 65534:65534
EXPOSE 6379
LABEL org.dockyard.base="1" \\
      org.opencontainers.image.title="dockyard/redis" \\
      org.opencontainers.image.description="dockyard/busybox + Debian redis-server and redis-cli"
CMD ["redis-server", "--dir", "/data", "--protected-mode", "no"]
DOCKERFILE
    build_and_check "$REDIS_IMAGE" "$ctx" "$log" "redis-server does not run in it" redis-server --version
}

# ---------------------------------------------------------------- stop / status

stop_one() {
    local name=$1 comm=$2 pidfile=$RUN_DIR/$1.pid pid
    if ! pid_alive "$pidfile" "$comm"; then
        rm -f "$pidfile"
        say "ok  $name (not started by setup)"
        return 0
    fi
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(( $(date +%s) + WAIT + 10 ))
    while [[ -d /proc/$pid ]] && (( $(date +%s) < deadline )); do sleep 0.2; done
    if [[ -d /proc/$pid ]]; then
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$pidfile"
    say "ok  $name stopped (pid $pid)"
}

do_stop() {
    local port
    for port in "${REGISTRY_PORTS[@]}"; do stop_one "registry-$port" docker-registry; done
    stop_one etcd etcd
    stop_one dockerd dockerd
}

do_status() {
    local bad=0 port
    if docker_answers; then say "ok  dockerd"; else say "NO  dockerd"; bad=1; fi
    if etcd_answers; then say "ok  etcd ($ETCD_CLIENT)"; else say "NO  etcd ($ETCD_CLIENT)"; bad=1; fi
    for port in "${REGISTRY_PORTS[@]}"; do
        if registry_answers "$port"; then say "ok  registry (127.0.0.1:$port)"
        else say "NO  registry (127.0.0.1:$port)"; bad=1; fi
    done
    local image
    for image in "$BASE_IMAGE" "$REDIS_IMAGE"; do
        if docker_answers && "$(docker_bin)" image inspect "$image" >/dev/null 2>&1; then
            say "ok  image $image"
        else say "NO  image $image"; bad=1; fi
    done
    return $bad
}

do_start() {
    [[ $(id -u) -eq 0 ]] || die "start needs root"
    mkdir -p "$LOG_DIR" "$RUN_DIR" "$LIB_DIR"
    start_dockerd
    start_etcd
    local port
    for port in "${REGISTRY_PORTS[@]}"; do start_registry "$port"; done
    build_base_image
    build_redis_image
}

# Serialise concurrent runs (make test and make demo at once, say).
lock() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/setup.lock"
    flock -w 300 9 || die "another scripts/setup.sh holds $RUN_DIR/setup.lock"
}

main() {
    local cmd=${1:-all}
    shift || true
    local arg
    for arg in "$@"; do
        case $arg in
            --tests) WITH_TESTS=1 ;;
            *) die "unknown option '$arg' (use: --tests)" ;;
        esac
    done
    case $cmd in
        all)     lock; do_install; do_start ;;
        install) lock; do_install ;;
        start)   lock; do_start ;;
        stop)    lock; do_stop ;;
        status)  do_status ;;
        requirements) WITH_TESTS=1; requirement_rows ;;
        -h|--help|help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
        *) die "unknown command '$cmd' (use: all, install, start, stop, status, requirements)" ;;
    esac
}

main "$@"
