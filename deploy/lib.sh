# Shared helpers for the deploy/*.sh scripts. Source it; it defines functions only.
# shellcheck shell=bash

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required but not on PATH"
  done
}

# Repository root, whichever directory the script is run from.
repo_root() { git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel; }

# Image tag shared by every image of one commit (the contract with orchestration).
default_image_tag() { git -C "$(repo_root)" rev-parse --short=12 HEAD; }

# The platform release (the version of libs/mlops-core): the tag k8s/ pins when applied by hand.
release_tag() { awk -F'"' '/^version = / {print $2; exit}' "$(repo_root)/libs/mlops-core/pyproject.toml"; }

# Poll a command until it succeeds or `timeout` seconds pass: retry_until 60 curl -sf URL
retry_until() {
  local timeout=$1 start
  shift
  start=$(date +%s)
  until "$@" >/dev/null 2>&1; do
    (($(date +%s) - start >= timeout)) && return 1
    sleep 2
  done
}

# Run a command and record "LABEL: Ns" in the caller's TIMINGS array: timed LABEL CMD...
timed() {
  local label=$1 t0
  shift
  t0=$(date +%s)
  "$@"
  TIMINGS+=("$label: $(($(date +%s) - t0))s")
}

# Images build on the public python:3.11-slim when it can be pulled, else on the local Debian base
# (LOCAL_BASE=1, deploy/base-image.sh); an explicit BASE_IMAGE or LOCAL_BASE is left alone.
choose_base_image() {
  [[ -z ${BASE_IMAGE:-} && -z ${LOCAL_BASE:-} ]] || return 0
  if docker image inspect python:3.11-slim >/dev/null 2>&1 || timeout 60 docker pull -q python:3.11-slim >/dev/null 2>&1; then
    export LOCAL_BASE=0
  else
    log "python:3.11-slim cannot be pulled (no registry): using the local Debian base image"
    export LOCAL_BASE=1
  fi
}
