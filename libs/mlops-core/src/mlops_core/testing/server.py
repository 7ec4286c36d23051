"""Start a real `mlflow server` (SQLite backend, proxied artifacts) on a free loopback port."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

# The server needs full `mlflow`; services install only `mlflow-skinny`, so the Makefile points
# this at the platform venv's executable.
ENV_MLFLOW_BIN = "MLOPS_MLFLOW_BIN"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mlflow_executable() -> str:
    beside_python = Path(sys.executable).parent / "mlflow"
    found = os.environ.get(ENV_MLFLOW_BIN) or (str(beside_python) if beside_python.exists() else None)
    found = found or shutil.which("mlflow")
    if not found:
        raise RuntimeError(f"no `mlflow` executable: install mlflow or set {ENV_MLFLOW_BIN}")
    return found


def server_command(root: Path, host: str, port: int) -> list[str]:
    return [
        mlflow_executable(),
        "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--serve-artifacts",
        "--host", host,
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip


class MlflowServer:
    """Context manager owning one tracking server process; `uri` is ready when `__enter__` returns."""

    def __init__(self, root: Path, port: int | None = None, startup_timeout: float = 180.0) -> None:
        self.root = root
        self.port = port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "MlflowServer":
        self.root.mkdir(parents=True, exist_ok=True)
        log = (self.root / "server.log").open("wb")
        # The job runner (MLflow's background workers) is unused here and costs startup time.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self._process = subprocess.Popen(
            server_command(self.root, "127.0.0.1", self.port), stdout=log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mlflow server exited early; see {self.root / 'server.log'}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.__exit__(None, None, None)
        raise TimeoutError(
            f"mlflow server not healthy after {self._timeout}s; see {self.root / 'server.log'}"
        )

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
