#!/usr/bin/env bash
# make demo: the example app from its git commit through testing, staging and production.
# One image, built once; each environment gives it its own configuration. Safe to run again.
#   DEMO_APP_DIR   the app to take through (default examples/hello)
set -euo pipefail
cd "$(dirname "$0")/.."
APP_DIR=${DEMO_APP_DIR:-examples/hello}
DY=(.venv/bin/dockyard -f "$APP_DIR/dockyard.yml")
start=$(date +%s)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "the engines: local socket, and a second dockerd that requires TLS client certificates"
bash scripts/tls-dockerd.sh start
eval "$(bash scripts/tls-dockerd.sh env)"
"${DY[@]}" engine add tls-host --host "$TLS_HOST" --tls-ca "$TLS_CA" --tls-cert "$TLS_CERT" --tls-key "$TLS_KEY"
"${DY[@]}" doctor

step "configuration for every environment, kept apart from the image"
envs=$(.venv/bin/python -c "import sys; from dockyard.spec import load_spec; print(' '.join(load_spec(sys.argv[1]).env_names()))" "$APP_DIR/dockyard.yml")
for env in $envs; do
  "${DY[@]}" config set "$env" "DOMAIN=$env.hello.example" "DB_HOST=db.$env.internal" "GREETING=hello from $env"
  printf '%s' "demo-$env-$(hostname)" | "${DY[@]}" secret set "$env" DB_PASSWORD
done
"${DY[@]}" config diff testing production

step "accessories: a Redis per environment that runs one, beside the app, never restarted by its deploys"
for env in $envs; do
  for name in $(.venv/bin/python -c "import sys; from dockyard.spec import load_spec; print(' '.join(load_spec(sys.argv[1]).accessories_of(sys.argv[2])))" "$APP_DIR/dockyard.yml" "$env"); do
    "${DY[@]}" accessory boot "$env" "$name"
    if [[ $name == cache ]]; then  # the app finds it by the address Dockyard resolves at deploy
      "${DY[@]}" config set "$env" 'CACHE_ADDR=${accessories.cache.address}'
    fi
  done
done

step "build once: the image of commit $(git -C "$APP_DIR" rev-parse --short HEAD), pushed to both registries"
"${DY[@]}" build --allow-dirty

first=${envs%% *}
step "deploy to $first"
"${DY[@]}" deploy "$first"
previous=$first
for env in ${envs#"$first"}; do
  step "promote the release of $previous to $env (the same digest, $env's configuration)"
  "${DY[@]}" promote "$previous" "$env"
  previous=$env
done

step "what runs"
"${DY[@]}" ps
for env in $envs; do
  url=$("${DY[@]}" ps "$env" --json | .venv/bin/python -c "import json,sys; print(next(r['url'] for r in json.load(sys.stdin) if r['url']))")
  printf '\n%s answers at %s\n' "$env" "$url"
  curl -fsS "$url/cgi-bin/info" | sed 's/^/  /'
done
printf '\ndemo done in %ss\n' "$(( $(date +%s) - start ))"
