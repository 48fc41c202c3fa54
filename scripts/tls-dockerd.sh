#!/usr/bin/env bash
# A second dockerd, reachable only over TLS with a client certificate: the
# "client and server certificates for the Docker API" engine (tls-host) for tests.
#
#   scripts/tls-dockerd.sh start [DIR]   make certs (once), bridge, start dockerd, wait
#   scripts/tls-dockerd.sh stop  [DIR]   stop it (pid file), wait, remove the bridge
#   scripts/tls-dockerd.sh env   [DIR]   print TLS_CA= TLS_CERT= TLS_KEY= TLS_HOST= lines
#   scripts/tls-dockerd.sh status [DIR]  exit 0 when it answers over TLS
#
# DIR defaults to /var/lib/dockyard/tls-dockerd. Layout:
#   DIR/certs/{ca.pem,ca-key.pem,server-cert.pem,server-key.pem,cert.pem,key.pem}
#   DIR/data (--data-root)  DIR/exec (--exec-root)  DIR/dockerd.pid  DIR/dockerd.log
# (cert.pem/key.pem/ca.pem follow Docker's naming, so DOCKER_CERT_PATH=DIR/certs works.)
#
# Environment: TLS_DOCKERD_PORT (2376), TLS_DOCKERD_BRIDGE (dy-tls0),
# TLS_DOCKERD_BRIDGE_CIDR (10.213.0.1/24),
# TLS_DOCKERD_WAIT (30 s).
#
# Notes from this machine (see docs: ARCHITECTURE "Checked on a machine like yours"):
# the daemon gets its own bridge created here, never `--bridge none` (that
# deletes the main daemon's docker0), no --default-address-pool (on a restart with a
# stale default network, dockerd then deletes the interface named docker0, which is the
# main daemon's), and `--iptables=false` so it leaves the
# main daemon's NAT rules alone. Move images to it through 127.0.0.1:5001 or save/load.
set -euo pipefail

PORT=${TLS_DOCKERD_PORT:-2376}
BRIDGE=${TLS_DOCKERD_BRIDGE:-dy-tls0}
BRIDGE_CIDR=${TLS_DOCKERD_BRIDGE_CIDR:-10.213.0.1/24}
WAIT=${TLS_DOCKERD_WAIT:-30}
HOST=tcp://127.0.0.1:$PORT

die() { printf 'tls-dockerd: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

docker_bin() {
    if command -v docker >/dev/null 2>&1; then command -v docker
    elif [[ -x /usr/bin/docker ]]; then echo /usr/bin/docker
    else die "no docker client found (run scripts/setup.sh install)"; fi
}

# ---------------------------------------------------------------- certificates

make_certs() {
    local c=$1
    if [[ -s $c/ca.pem && -s $c/server-cert.pem && -s $c/server-key.pem && -s $c/cert.pem && -s $c/key.pem ]]; then
        return 0
    fi
    command -v openssl >/dev/null || die "openssl not found (run scripts/setup.sh install)"
    mkdir -p "$c"
    chmod 700 "$c"
    (
        cd "$c"
        umask 077
        rm -f ./*.pem ./*.csr ./*.ext ./*.srl
        # CA
        openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
            -keyout ca-key.pem -out ca.pem -subj "/CN=Dockyard test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        # server: 127.0.0.1 and localhost
        openssl req -newkey rsa:2048 -nodes -sha256 -keyout server-key.pem -out server.csr \
            -subj "/CN=localhost" 2>/dev/null
        printf '%s\n' "basicConstraints=CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth" \
            "subjectAltName=IP:127.0.0.1,DNS:localhost" >server.ext
        openssl x509 -req -sha256 -days 3650 -in server.csr -CA ca.pem -CAkey ca-key.pem \
            -CAcreateserial -out server-cert.pem -extfile server.ext 2>/dev/null
        # client
        openssl req -newkey rsa:2048 -nodes -sha256 -keyout key.pem -out client.csr \
            -subj "/CN=dockyard-client" 2>/dev/null
        printf '%s\n' "basicConstraints=CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=clientAuth" >client.ext
        openssl x509 -req -sha256 -days 3650 -in client.csr -CA ca.pem -CAkey ca-key.pem \
            -CAcreateserial -out cert.pem -extfile client.ext 2>/dev/null
        rm -f ./*.csr ./*.ext ./*.srl
        chmod 600 ./*key.pem
        chmod 644 ca.pem cert.pem server-cert.pem
        openssl verify -CAfile ca.pem server-cert.pem cert.pem >/dev/null
    ) || die "could not make certificates in $c"
}

# ---------------------------------------------------------------- bridge

bridge_up() {
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link add "$BRIDGE" type bridge || die "could not create bridge $BRIDGE"
    fi
    if ! ip -4 addr show dev "$BRIDGE" | grep -q "inet ${BRIDGE_CIDR%%/*}/"; then
        ip addr add "$BRIDGE_CIDR" dev "$BRIDGE" || die "could not give $BRIDGE the address $BRIDGE_CIDR"
    fi
    ip link set "$BRIDGE" up
}

bridge_down() {
    if ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link set "$BRIDGE" down 2>/dev/null || true
        ip link del "$BRIDGE" 2>/dev/null || true
    fi
}

# ---------------------------------------------------------------- daemon

tls_docker() {
    local c=$DIR/certs
    timeout 10 "$(docker_bin)" --tlsverify --tlscacert "$c/ca.pem" --tlscert "$c/cert.pem" \
        --tlskey "$c/key.pem" -H "$HOST" "$@"
}

answers() { tls_docker info >/dev/null 2>&1; }

pid_of() {   # pid_of FILE COMM: the live process in FILE named COMM, or nothing
    local f=$1 comm=$2 pid
    [[ -f $f ]] || return 1
    pid=$(cat "$f" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ && -d /proc/$pid ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm"* ]] || return 1
    echo "$pid"
}

fail() {
    {
        printf 'tls-dockerd: %s; see %s\n' "$1" "$DIR/dockerd.log"
        [[ -f $DIR/dockerd.log ]] && tail -n 15 "$DIR/dockerd.log"
    } >&2
    exit 1
}

do_start() {
    [[ $(id -u) -eq 0 ]] || die "start needs root"
    mkdir -p "$DIR"
    make_certs "$DIR/certs"
    if answers; then
        echo "ok  tls-dockerd (already running, $HOST)"
        return 0
    fi
    if pid_of "$DIR/dockerd.pid" dockerd >/dev/null; then
        : # starting already (another caller): just wait below
    else
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            die "127.0.0.1:$PORT is taken by something else (set TLS_DOCKERD_PORT)"
        fi
        bridge_up
        mkdir -p "$DIR/data" "$DIR/exec"
        local c=$DIR/certs log=$DIR/dockerd.log
        printf '\n=== %s: starting tls-dockerd on %s\n' "$(date -Is)" "$HOST" >>"$log"
        setsid nohup dockerd \
            --data-root "$DIR/data" \
            --exec-root "$DIR/exec" \
            --pidfile "$DIR/dockerd.pid" \
            -H "$HOST" \
            --tlsverify --tlscacert "$c/ca.pem" --tlscert "$c/server-cert.pem" --tlskey "$c/server-key.pem" \
            --iptables=false \
            --bridge "$BRIDGE" \
            --shutdown-timeout 5 \
            >>"$log" 2>&1 </dev/null 9>&- &
        local launched=$!
        local deadline=$(( $(date +%s) + WAIT ))
        until answers; do
            [[ -d /proc/$launched ]] || fail "dockerd exited while starting"
            (( $(date +%s) < deadline )) || fail "dockerd did not answer on $HOST within ${WAIT}s"
            sleep 0.3
        done
        echo "ok  tls-dockerd started ($HOST, data $DIR/data)"
        return 0
    fi
    local deadline=$(( $(date +%s) + WAIT ))
    until answers; do
        (( $(date +%s) < deadline )) || fail "dockerd (pid $(cat "$DIR/dockerd.pid")) does not answer on $HOST"
        sleep 0.3
    done
    echo "ok  tls-dockerd (already running, $HOST)"
}

wait_gone() {   # wait_gone PID SECONDS
    local pid=$1 deadline=$(( $(date +%s) + $2 ))
    while [[ -d /proc/$pid ]] && (( $(date +%s) < deadline )); do sleep 0.2; done
    [[ ! -d /proc/$pid ]]
}

do_stop() {
    local pid cpid
    # Its own containerd (managed by this dockerd) lives under the exec root.
    cpid=$(pid_of "$DIR/exec/containerd/containerd.pid" containerd || true)
    if pid=$(pid_of "$DIR/dockerd.pid" dockerd); then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" "$WAIT"; then
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || true
        fi
        echo "ok  tls-dockerd stopped (pid $pid)"
    else
        echo "ok  tls-dockerd (not running)"
    fi
    if [[ -n $cpid && -d /proc/$cpid ]]; then
        kill -TERM "$cpid" 2>/dev/null || true
        wait_gone "$cpid" 10 || kill -KILL "$cpid" 2>/dev/null || true
    fi
    rm -f "$DIR/dockerd.pid"
    bridge_down
}

do_env() {
    local c=$DIR/certs
    [[ -s $c/cert.pem ]] || die "no certificates in $c (run: $0 start $DIR)"
    printf 'TLS_CA=%s\nTLS_CERT=%s\nTLS_KEY=%s\nTLS_HOST=%s\n' \
        "$c/ca.pem" "$c/cert.pem" "$c/key.pem" "$HOST"
}

cmd=${1:-}
DIR=${2:-/var/lib/dockyard/tls-dockerd}
DIR=$(realpath -m "$DIR")
case $cmd in
    start)  do_start ;;
    stop)   do_stop ;;
    env)    do_env ;;
    status) if answers; then echo "ok  tls-dockerd ($HOST)"; else echo "NO  tls-dockerd ($HOST)"; exit 1; fi ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
esac
