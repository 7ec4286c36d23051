#!/usr/bin/env bash
# Make sure a Docker engine answers: use the running one, else start Debian's `dockerd` (installing
# `docker.io` with apt when it is missing). Needs root to install or start the daemon.
# Exit 0 when `docker info` works; exit 3 with the reason when no engine can run here, so callers
# (make e2e-docker, .ci/run) can tell "cannot run" from a failure.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATE_DIR=${DOCKERD_STATE_DIR:-/var/run/mlops-dockerd}
LOG=${DOCKERD_LOG:-/var/log/mlops-dockerd.log}
cannot() {
  log "no Docker engine: $*"
  exit 3
}

if docker info >/dev/null 2>&1; then
  log "Docker engine already running ($(docker info -f '{{.ServerVersion}}'))"
  exit 0
fi
[[ $EUID -eq 0 ]] || cannot "not running and starting one needs root (sudo make ...)"

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends docker.io >/dev/null 2>&1 ||
    { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends docker.io >/dev/null; } ||
    cannot "apt-get install docker.io failed"
fi
command -v docker >/dev/null 2>&1 || cannot "docker.io installed no docker client"

mkdir -p "$STATE_DIR"
if [[ -f $STATE_DIR/dockerd.pid ]] && kill -0 "$(cat "$STATE_DIR/dockerd.pid")" 2>/dev/null; then
  log "dockerd (pid $(cat "$STATE_DIR/dockerd.pid")) is starting"
else
  log "starting dockerd (log: $LOG)"
  # setsid: the daemon outlives this script and the make recipe that ran it.
  setsid dockerd >"$LOG" 2>&1 </dev/null &
  echo $! >"$STATE_DIR/dockerd.pid"
fi
if ! retry_until "${DOCKERD_START_TIMEOUT:-60}" docker info; then
  tail -n 20 "$LOG" >&2 || true
  cannot "dockerd did not answer within ${DOCKERD_START_TIMEOUT:-60}s (see $LOG)"
fi
log "Docker engine up ($(docker info -f '{{.ServerVersion}}'), storage $(docker info -f '{{.Driver}}'))"
