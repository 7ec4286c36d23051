"""`cluster.sh load` on the live cluster: a new tag of an image replaces the node's older tags (image
GC is off on the nodes, so without this every build's images would stay on disk), and a node that
holds the same image id is skipped."""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.kubernetes.conftest import CLUSTER_DIR, REPO

CLUSTER_SH = REPO / "deploy" / "cluster" / "cluster.sh"
NODE = "cpu"


def docker(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True, **kwargs)


def node_refs() -> dict[str, str]:
    """Every image name the node's containerd holds, with the digest it points to."""
    sock = CLUSTER_DIR / "nodes" / NODE / "containerd.sock"
    listing = subprocess.run(
        ["ctr", "-a", str(sock), "-n", "k8s.io", "images", "ls"], check=True, capture_output=True, text=True
    ).stdout
    return {line.split()[0]: line.split()[2] for line in listing.splitlines()[1:] if line.strip()}


def load(image: str) -> str:
    result = subprocess.run(
        ["bash", str(CLUSTER_SH), "load", image],
        env={
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "MLOPS_LOAD_NODES": NODE,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


@pytest.fixture
def two_builds(admin_api, tmp_path: Path):
    """Two tags of one tiny repository, each a different image (FROM scratch, one file)."""
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode:
        pytest.skip("no Docker engine (make docker-engine)")
    repo = f"mlops/load-test-{uuid.uuid4().hex[:8]}"
    tags = []
    for build in ("one", "two"):
        (tmp_path / "content").write_text(build)
        (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY content /content\n")
        docker(
            "build",
            "-q",
            "-t",
            f"{repo}:{build}",
            str(tmp_path),
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        tags.append(f"{repo}:{build}")
    yield tags
    subprocess.run(["docker", "rmi", *tags], capture_output=True)
    sock = CLUSTER_DIR / "nodes" / NODE / "containerd.sock"
    leftovers = [ref for ref in node_refs() if ref.startswith(f"docker.io/{repo}")]
    if leftovers:
        subprocess.run(
            ["ctr", "-a", str(sock), "-n", "k8s.io", "images", "rm", *leftovers], capture_output=True
        )


def test_a_new_tag_replaces_the_older_tags_and_their_content(two_builds) -> None:
    first, second = two_builds
    load(first)
    first_digest = node_refs()[f"docker.io/{first}"]
    assert first_digest in {digest for ref, digest in node_refs().items() if ref.startswith("sha256:")}

    log = load(second)
    refs = node_refs()
    assert f"docker.io/{second}" in refs
    assert f"docker.io/{first}" not in refs, log
    assert first_digest not in refs.values(), "the CRI's sha256:<id> name keeps the old content alive"


def test_a_rebuilt_tag_leaves_no_trace_of_the_image_it_replaced(two_builds, tmp_path: Path) -> None:
    first, _ = two_builds
    load(first)
    replaced = node_refs()[f"docker.io/{first}"]
    old_id = docker("image", "inspect", "-f", "{{.Id}}", first).stdout.strip()
    (tmp_path / "content").write_text("rebuilt")
    docker("build", "-q", "-t", first, str(tmp_path), env={**os.environ, "DOCKER_BUILDKIT": "0"})
    docker("rmi", old_id)

    load(first)
    refs = node_refs()
    assert refs[f"docker.io/{first}"] != replaced
    assert replaced not in refs.values(), "the CRI's sha256:<id> name keeps the replaced content alive"


def test_loading_the_same_image_again_is_skipped(two_builds) -> None:
    first, _ = two_builds
    load(first)
    assert "loaded" not in load(first)
