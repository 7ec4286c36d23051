"""Static deployment checks: render the kustomize overlays once per session and share the objects."""

from typing import Any

import pytest

from .helpers import K8S, OVERLAYS, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Objects of each overlay (and of the base), keyed by overlay name."""
    out = {name: render(K8S / "overlays" / name) for name in OVERLAYS}
    out["base"] = render(K8S / "base")
    return out
