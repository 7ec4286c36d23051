#!/usr/bin/env bash
# Build a local Debian bookworm base image with python3.11, venv and pip, without any image
# registry: debootstrap a root file system from Debian's package mirror, then `docker import` it.
# Service Dockerfiles use it through `--build-arg BASE_IMAGE=<this image>`.
#
# Usage: deploy/base-image.sh [IMAGE]   (default mlops/base:bookworm-py311)
# Env:   DEBIAN_MIRROR (default http://deb.debian.org/debian), DEBIAN_SUITE (default bookworm),
#        REBUILD_BASE=1 (build even when IMAGE exists)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE=${1:-${BASE_IMAGE_LOCAL:-mlops/base:bookworm-py311}}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${DEBIAN_SUITE:-bookworm}
# python3 in bookworm is 3.11; python-is-python3 gives `python` as in the python:3.11-slim image.
PACKAGES=ca-certificates,python3,python3-venv,python3-pip,python-is-python3,tini

[[ $EUID -eq 0 ]] || die "debootstrap needs root (run as root or with sudo)"
if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing Debian's debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >/dev/null
fi
need docker tar
docker info >/dev/null 2>&1 || die "no Docker engine answers; run deploy/docker-engine.sh first"
# Built once: a rebuilt base is a new image id, which would invalidate every workload image's cache.
if [[ ${REBUILD_BASE:-0} != 1 ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE exists (REBUILD_BASE=1 builds it anew)"
  exit 0
fi

rootfs=$(mktemp -d /var/tmp/mlops-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

log "debootstrap $SUITE (minbase + $PACKAGES) from $MIRROR"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 ||
  { tail -n 30 "$rootfs.log" >&2; die "debootstrap failed (full log: $rootfs.log)"; }
rm -f "$rootfs.log"

# Updates and security fixes, so `apt-get install` in build stages gets current packages.
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} $SUITE-security main
SOURCES

# Trust the same extra CAs as this host (a TLS-inspecting egress proxy, a company CA): without
# them pip inside `docker build` cannot reach the package index.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  log "adding this host's extra CA certificates"
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null
fi

# A container image is its own environment: let pip install outside a venv as in python:*-slim.
rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
# Keep the image small: no package lists, caches, docs or man pages.
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* \
  "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/tmp/* "$rootfs"/var/log/*.log

log "importing $IMAGE"
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV PIP_DISABLE_PIP_VERSION_CHECK=1' \
  --change 'CMD ["python3"]' \
  --message "debootstrap $SUITE minbase + python3.11 (deploy/base-image.sh)" \
  - "$IMAGE" >/dev/null
docker run --rm "$IMAGE" python3.11 -c 'import ssl, venv, sys; print("base ok:", sys.version.split()[0])'
log "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
