#!/usr/bin/env bash
# Build the platform images, tagged with the git SHA (and the release, see release_tag in lib.sh):
#   mlops/training-lgbm  mlops/training-cnn  mlops/tick-features  mlops/serving  (services/*/Dockerfile)
#   mlops/airflow        (orchestration/Dockerfile)     mlops/mlflow  (deploy/images/mlflow.Dockerfile)
#
# Usage: deploy/build-images.sh [NAME...]        (default: every image whose Dockerfile exists)
# Env:
#   IMAGE_PREFIX   default mlops/            IMAGE_TAG   default: git rev-parse --short=12 HEAD
#   BASE_IMAGE     default python:3.11-slim  (the base of every image but Airflow)
#   AIRFLOW_IMAGE  default apache/airflow:3.3.2-python3.11
#   LOCAL_BASE=1   no registry: build (once) and use the local Debian base (deploy/base-image.sh)
#                  for BASE_IMAGE and AIRFLOW_IMAGE, unless those are set explicitly
#   CNN_VARIANT    cpu (default) or cuda: the training-cnn build arg TORCH_VARIANT; the cuda image is
#                  tagged <tag>-cuda
#   WHEELS_DIR     local wheels put into the build context at build/wheels/ (default: UV_FIND_LINKS,
#                  e.g. a folder holding the CPU torch wheel)
#   KEEP_OLD_IMAGES=1  keep the images of earlier commits; by default a build removes the repo's
#                  older commit tags (and the image a rebuilt tag left untagged): about 1 GB each
#
# The build context is the repository's tracked and unignored files (no .venv, .data, caches), so
# builds are reproducible and small whatever lies in the work tree.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
cd "$ROOT"
PREFIX=${IMAGE_PREFIX:-mlops/}
TAG=${IMAGE_TAG:-$(default_image_tag)}
GIT_SHA=$(git rev-parse HEAD)
LOCAL_BASE_IMAGE=${BASE_IMAGE_LOCAL:-mlops/base:bookworm-py311}
CNN_VARIANT=${CNN_VARIANT:-cpu}
WHEELS_DIR=${WHEELS_DIR:-${UV_FIND_LINKS:-}}
# Classic builder: works with every client (Debian's docker.io has no buildx); Dockerfiles stick
# to syntax it understands (no RUN --mount, no heredocs).
export DOCKER_BUILDKIT=0

declare -A DOCKERFILE=(
  [training-lgbm]=services/training-lgbm/Dockerfile
  [training-cnn]=services/training-cnn/Dockerfile
  [tick-features]=services/tick-features/Dockerfile
  [serving]=services/serving/Dockerfile
  [airflow]=orchestration/Dockerfile
  [mlflow]=deploy/images/mlflow.Dockerfile
)
ORDER=(training-lgbm training-cnn tick-features serving mlflow airflow)

if [[ ${LOCAL_BASE:-0} == 1 ]]; then
  BASE_IMAGE=${BASE_IMAGE:-$LOCAL_BASE_IMAGE}
  AIRFLOW_IMAGE=${AIRFLOW_IMAGE:-$LOCAL_BASE_IMAGE}
  if ! docker image inspect "$LOCAL_BASE_IMAGE" >/dev/null 2>&1; then
    "$ROOT/deploy/base-image.sh" "$LOCAL_BASE_IMAGE"
  fi
fi
BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim}
AIRFLOW_IMAGE=${AIRFLOW_IMAGE:-apache/airflow:3.3.2-python3.11}

# One context tarball for every build: tracked + untracked-but-not-ignored files, plus build/wheels.
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/tree/build/wheels"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [[ -e $f ]] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -C "$context/tree" -xf -
# Airflow's pip install follows the versions the orchestration venv resolved (Airflow's own advice:
# install with constraints); without them pip backtracks for a long time on Airflow's pins.
mkdir -p "$context/tree/build/constraints"
airflow_python=${AIRFLOW_VENV:-orchestration/.venv}/bin/python
if [[ -x $airflow_python ]]; then
  ${UV:-python3.11 -m uv} pip freeze --python "$airflow_python" --exclude-editable >"$context/tree/build/constraints/airflow.txt"
else
  log "no $airflow_python: building the Airflow image without constraints (slow resolution)"
  : >"$context/tree/build/constraints/airflow.txt"
fi
if [[ -n $WHEELS_DIR && -d $WHEELS_DIR ]]; then
  find "$WHEELS_DIR" -maxdepth 1 -name '*.whl' -exec cp {} "$context/tree/build/wheels/" \;
fi

build() {
  local name=$1 dockerfile=${DOCKERFILE[$1]} ref start args=()
  ref="$PREFIX$name:$TAG"
  args=(--build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "GIT_SHA=$GIT_SHA")
  case $name in
    airflow) args=(--build-arg "AIRFLOW_IMAGE=$AIRFLOW_IMAGE" --build-arg "GIT_SHA=$GIT_SHA") ;;
    training-cnn)
      args+=(--build-arg "TORCH_VARIANT=$CNN_VARIANT")
      [[ $CNN_VARIANT == cpu ]] || ref="$ref-$CNN_VARIANT"
      ;;
  esac
  start=$(date +%s)
  local previous_id
  previous_id=$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)
  log "building $ref from $dockerfile"
  # Images that never use build/wheels do not need 190 MB of torch in their context.
  local exclude=()
  [[ $name == training-cnn ]] || exclude=(--exclude=./build/wheels)
  mkdir -p "$ROOT/build/logs"
  local build_log="$ROOT/build/logs/image-$name.log"
  if ! tar -C "$context/tree" "${exclude[@]}" -cf - . |
    docker build --network host -f "$dockerfile" -t "$ref" "${args[@]}" - >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    die "docker build of $ref failed (full log: $build_log)"
  fi
  docker tag "$ref" "$PREFIX$name:latest"
  [[ $ref == *-cuda ]] || docker tag "$ref" "$PREFIX$name:$(release_tag)"
  log "built $ref in $(($(date +%s) - start))s, $(docker image inspect -f '{{.Size}}' "$ref" | awk '{printf "%.0f MB", $1/1e6}')"
  [[ ${KEEP_OLD_IMAGES:-0} == 1 ]] || retire_older_builds "$ref" "$previous_id"
}

# Tags of earlier commits (12 hex digits, same variant) of this image's repo, and the image this
# build replaced if nothing else names it. A container still using one keeps it (rmi refuses).
retire_older_builds() {  # retire_older_builds REPO:TAG PREVIOUS_ID
  local ref=$1 previous_id=$2 repo=${1%:*} id tag variant="" stale=()
  [[ $ref == *-cuda ]] && variant=-cuda
  id=$(docker image inspect -f '{{.Id}}' "$ref")
  while read -r tag; do
    [[ $tag =~ ^[0-9a-f]{12}$variant$ && $repo:$tag != "$ref" ]] || continue
    [[ $(docker image inspect -f '{{.Id}}' "$repo:$tag") != "$id" ]] && stale+=("$repo:$tag")
  done < <(docker image ls --format '{{.Tag}}' "$repo")
  if [[ -n $previous_id && $previous_id != "$id" ]] &&
    [[ -z $(docker image inspect -f '{{join .RepoTags " "}}' "$previous_id" 2>/dev/null) ]]; then
    stale+=("$previous_id")
  fi
  [[ ${#stale[@]} -gt 0 ]] || return 0
  docker rmi "${stale[@]}" >/dev/null 2>&1 || log "warning: could not remove all of ${stale[*]}"
  log "removed older builds of $repo: ${stale[*]} (KEEP_OLD_IMAGES=1 keeps them)"
}

names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then
  for name in "${ORDER[@]}"; do
    if [[ -f ${DOCKERFILE[$name]} ]]; then names+=("$name"); else log "skipping $name: no ${DOCKERFILE[$name]} yet"; fi
  done
fi
for name in "${names[@]}"; do
  [[ -n ${DOCKERFILE[$name]:-} ]] || die "unknown image '$name' (known: ${ORDER[*]})"
  [[ -f ${DOCKERFILE[$name]} ]] || die "no ${DOCKERFILE[$name]} for image $name"
  build "$name"
done
log "images tagged $TAG (base: $BASE_IMAGE)"
