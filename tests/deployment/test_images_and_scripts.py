"""Images follow the house conventions (checked statically: no Docker engine needed), and the
deployment scripts parse and pass shellcheck."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .helpers import REPO

SERVICE_DOCKERFILES = [
    *sorted((REPO / "services").glob("*/Dockerfile")),
    REPO / "deploy/images/mlflow.Dockerfile",
]
SCRIPTS = sorted((REPO / "deploy").rglob("*.sh"))


def stages(dockerfile: Path) -> list[list[str]]:
    """Instructions per build stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    out: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            out.append([])
        if out:
            out[-1].append(line)
    return out


@pytest.mark.parametrize("dockerfile", SERVICE_DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_service_images_follow_the_conventions(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", text, re.M), "base image must be a build arg"
    final = stages(dockerfile)[-1]
    assert final[0].split()[1] == "${BASE_IMAGE}", "final stage must start from the base image"
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"0", "root"}, "final stage must run as non-root"
    assert any(re.match(r"ARG GIT_SHA", line) for line in final)
    assert any("MLOPS_GIT_SHA=$GIT_SHA" in line or "MLOPS_GIT_SHA=${GIT_SHA}" in line for line in final)
    installs = " ".join(line for line in final if line.upper().startswith("RUN "))
    assert not re.search(r"\b(gcc|g\+\+|build-essential|clang)\b", installs), (
        "no compilers in the final stage"
    )
    assert any(line.upper().startswith("ENTRYPOINT") for line in final)
    # The classic builder (Debian docker.io, no buildx) has neither RUN --mount nor COPY --chmod.
    for flag in ("--mount", "--chmod", "--link", "--parents"):
        assert flag not in text, f"the classic builder (Debian docker.io, no buildx) has no {flag}"


@pytest.mark.parametrize("dockerfile", SERVICE_DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_service_images_ship_compiled_bytecode(dockerfile: Path) -> None:
    """Pods run with a read-only root, where Python cannot write bytecode: an image without it
    compiles every import at each start (seconds per task). pip compiles at install by default;
    uv only with UV_COMPILE_BYTECODE=1 (or --compile-bytecode)."""
    for stage in stages(dockerfile):
        compiled = any("UV_COMPILE_BYTECODE=1" in line or "--compile-bytecode" in line for line in stage)
        for line in stage:
            if re.search(r"\buv pip install\b", line):
                assert compiled, f"uv installs without compiling bytecode: {line[:120]}"
            if re.search(r"\bpip install\b", line) and "uv pip" not in line:
                assert "--no-compile" not in line, f"pip told not to compile bytecode: {line[:120]}"


def test_airflow_image_extends_a_configurable_airflow_base() -> None:
    text = (REPO / "orchestration" / "Dockerfile").read_text()
    assert re.search(r"^ARG AIRFLOW_IMAGE=apache/airflow:3\.\d+\.\d+-python3\.11$", text, re.M)
    assert "FROM ${AIRFLOW_IMAGE}" in text
    assert (
        re.findall(r"^USER (\S+)", text, re.M)[-1] == "50000"
    )  # the official image's uid; the chart expects it
    assert "COPY --chown=50000:0 orchestration/dags /opt/airflow/dags" in text
    assert "MLOPS_GIT_SHA=$GIT_SHA" in text


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_scripts_parse(script: Path) -> None:
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    result = subprocess.run(
        [shellcheck, "-x", *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO / "deploy",
    )
    assert result.returncode == 0, result.stdout
