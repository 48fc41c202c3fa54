#!/bin/sh
# hello's worker: no port, a job every few seconds, each said in its log (dockyard logs ENV worker).
# Healthy while it runs and does not restart; in blue/green its standby colour's copy is stopped.
n=0
while true; do
  n=$((n + 1))
  echo "worker: job $n done (release $DOCKYARD_RELEASE)"
  sleep 5
done
