"""Start a throwaway Airflow the way `make airflow-up` does (same scripts), on a free loopback port.

Steps: `airflow db migrate` -> orchestration/scripts/airflow_access.py (team roles, users, generated
passwords) -> orchestration/scripts/airflow_stack.py up (waits for health and for every catalog DAG);
teardown always runs `airflow_stack.py down` and checks that the api-server no longer answers.
"""

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_BIN = REPO / "orchestration" / ".venv" / "bin"
SCRIPTS = REPO / "orchestration" / "scripts"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
SETUP_TIMEOUT_S = 300


@dataclass(frozen=True)
class LocalAirflow:
    base_url: str
    passwords: dict[str, str]

    def token(self, username: str, password: str | None = None) -> httpx.Response:
        """POST /auth/token (the FAB auth manager's JWT endpoint) with the user's credentials."""
        body = {"username": username, "password": self.passwords[username] if password is None else password}
        return httpx.post(f"{self.base_url}/auth/token", json=body, timeout=30)

    def client(self, username: str) -> httpx.Client:
        """An HTTP client that calls /api/v2 as `username` (Bearer JWT)."""
        reply = self.token(username)
        assert reply.status_code == 201, reply.text
        headers = {"Authorization": f"Bearer {reply.json()['access_token']}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def airflow_env(home: Path, data_root: Path) -> dict[str, str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW_", "AIRFLOW__", "MLOPS_AIRFLOW_PASSWORD_"))
    }
    return {
        **inherited,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "orchestration" / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
        "MLOPS_LAUNCH_MODE": "local",
        "MLOPS_REPO_ROOT": str(REPO),
        "MLOPS_DATA_ROOT": str(data_root),
    }


def _run(argv: list[str], env: dict[str, str], timeout: float = SETUP_TIMEOUT_S) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{' '.join(argv)} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )


@contextmanager
def local_airflow(home: Path, components: str = "api-server,dag-processor") -> Iterator[LocalAirflow]:
    if not (AIRFLOW_BIN / "airflow").exists():
        raise RuntimeError(f"{AIRFLOW_BIN / 'airflow'} missing: run `make setup` first")
    env = airflow_env(home, home / "data")
    python = str(AIRFLOW_BIN / "python")
    run_dir, passwords = home / "run", home / "airflow-users.json"
    port = free_port()
    try:
        _run([str(AIRFLOW_BIN / "airflow"), "db", "migrate"], env)
        _run([python, str(SCRIPTS / "airflow_access.py"), "--passwords", str(passwords)], env)
        _run([python, str(SCRIPTS / "airflow_stack.py"), "up", "--run-dir", str(run_dir), "--port", str(port),
              "--components", components, "--passwords", str(passwords)], env)  # fmt: skip
        yield LocalAirflow(f"http://127.0.0.1:{port}", json.loads(passwords.read_text()))
    finally:
        subprocess.run([python, str(SCRIPTS / "airflow_stack.py"), "down", "--run-dir", str(run_dir)], env=env,
                       timeout=120, check=False)  # fmt: skip
    with socket.socket() as sock:  # reached when setup did not fail: `down` must have freed the port
        assert sock.connect_ex(("127.0.0.1", port)) != 0, f"the api-server still listens on port {port}"
