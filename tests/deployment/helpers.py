"""Helpers shared by the deployment checks: render kustomize directories, look objects up."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ("kind", "local", "cluster")
# Custom resources we deploy on purpose; they have no schema in kubernetes-validate.
CUSTOM_RESOURCE_GROUPS = ("sparkoperator.k8s.io/",)


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is required to render the kustomize overlays (it bundles kustomize)")
    return found


def render(path: Path) -> list[dict[str, Any]]:
    result = subprocess.run([kubectl(), "kustomize", str(path)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {path.relative_to(REPO)} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected exactly one {kind}/{name}, found {len(matches)}"
    return matches[0]


def is_custom_resource(obj: dict[str, Any]) -> bool:
    return obj.get("apiVersion", "").startswith(CUSTOM_RESOURCE_GROUPS)
