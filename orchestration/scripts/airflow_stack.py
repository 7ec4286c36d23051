"""Start and stop a local Airflow on loopback: api-server (FAB auth), scheduler, dag-processor, triggerer.

Run with the orchestration venv, after `airflow db migrate` and `airflow_access.py` (roles before the
dag-processor writes DAGs), with the environment of the Airflow it serves (AIRFLOW_HOME, DAGs folder,
auth manager):

    orchestration/.venv/bin/python orchestration/scripts/airflow_stack.py up --run-dir .run --port 8080 \
        --passwords .run/airflow-users.json
    orchestration/.venv/bin/python orchestration/scripts/airflow_stack.py down --run-dir .run

`up` starts each component in its own process group (pid file `<run-dir>/airflow-<component>.pid`, log
`<run-dir>/airflow-<component>.log`), waits until /api/v2/monitor/health reports every started component
healthy and, with --passwords, until the admin sees every DAG of the catalog with no import errors. If a
component dies or the wait times out it prints the logs' tails, stops what it started and exits 1.
`down` stops the process groups named by the pid files (SIGTERM, then SIGKILL after a grace period).
"""

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from airflow_access import ADMIN_USER, resolve_passwords

from mlops_orchestration.cli import DEFAULT_CATALOG

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# The /monitor/health key of each component whose heartbeat the api-server reports.
HEALTH_KEYS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}
HOST = "127.0.0.1"
STOP_GRACE_S = 20.0


def pid_file(run_dir: Path, component: str) -> Path:
    return run_dir / f"airflow-{component}.pid"


def log_file(run_dir: Path, component: str) -> Path:
    return run_dir / f"airflow-{component}.log"


def running_pid(run_dir: Path, component: str) -> int | None:
    """The pid from the component's pid file if that process still runs (a stale file is removed)."""
    path = pid_file(run_dir, component)
    if not path.exists():
        return None
    pid = int(path.read_text().strip())
    if not group_alive(pid) or not is_airflow_process(pid):
        path.unlink()
        return None
    return pid


def is_airflow_process(pid: int) -> bool:
    """Guard against a recycled pid: the pid file's process must still be an `airflow` command."""
    try:
        return b"airflow" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc").is_dir()  # no procfs (not Linux): trust the pid file


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) == 0


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies, exited but not yet reaped, do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: zombies count as alive there
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            state, _parent, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue  # exited while we looked
        if int(group) == pgid and state != "Z":
            return True
    return False


def component_argv(airflow: Path, component: str, port: int, api_workers: int) -> list[str]:
    if component == "api-server":
        return [
            str(airflow),
            "api-server",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(api_workers),
        ]
    return [str(airflow), component]


def component_env(port: int) -> dict[str, str]:
    # Task processes started by the scheduler's executor report to this api-server's execution API.
    execution_api = (
        os.environ.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL") or f"http://{HOST}:{port}/execution/"
    )
    return {**os.environ, "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": execution_api}


def start(run_dir: Path, component: str, argv: list[str], env: dict[str, str]) -> int:
    with log_file(run_dir, component).open("ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    pid_file(run_dir, component).write_text(f"{process.pid}\n")
    return process.pid


def stop(run_dir: Path, components: list[str], grace_s: float = STOP_GRACE_S) -> list[str]:
    """Stop the components' process groups (each pid is its group id: started in a new session).

    SIGTERM to every group at once, SIGKILL to those still running after the grace period."""
    pids = {c: pid for c in components if (pid := running_pid(run_dir, c)) is not None}
    for pid in pids.values():
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(group_alive(pid) for pid in pids.values()):
        time.sleep(0.2)
    for component, pid in pids.items():
        if group_alive(pid):
            print(f"{component} ignored SIGTERM for {grace_s:.0f}s: SIGKILL", file=sys.stderr)
            _signal_group(pid, signal.SIGKILL)
        pid_file(run_dir, component).unlink(missing_ok=True)
    return list(pids)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def http_json(url: str, token: str | None = None, body: dict[str, Any] | None = None) -> Any:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def unhealthy(base_url: str, components: list[str]) -> list[str]:
    """Components not yet healthy according to the api-server (all of them while it does not answer)."""
    try:
        health = http_json(f"{base_url}/api/v2/monitor/health")
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return list(components)
    keys = [HEALTH_KEYS[c] for c in components if c in HEALTH_KEYS]
    return [key for key in ["metadatabase", *keys] if (health.get(key) or {}).get("status") != "healthy"]


def missing_dags(base_url: str, token: str, expected: set[str]) -> tuple[set[str], list[str]]:
    """DAG ids the admin cannot list yet, and the import errors reported so far."""
    listed = http_json(f"{base_url}/api/v2/dags?limit=1000", token)
    errors = http_json(f"{base_url}/api/v2/importErrors", token)
    messages = [f"{e['filename']}: {e['stack_trace']}" for e in errors["import_errors"]]
    return expected - {dag["dag_id"] for dag in listed["dags"]}, messages


def expected_dag_ids(catalog_path: Path) -> set[str]:
    """Every DAG id the DAG file defines: built by the same factory (imports Airflow, ~seconds)."""
    from mlops_orchestration.factory import build_dags

    return set(build_dags(catalog_path))


def admin_token(base_url: str, passwords: Path) -> str:
    password = resolve_passwords([ADMIN_USER], passwords)[0][ADMIN_USER]
    reply = http_json(f"{base_url}/auth/token", body={"username": ADMIN_USER, "password": password})
    return reply["access_token"]


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class StartupFailed(RuntimeError):
    pass


def wait_until_ready(args: argparse.Namespace, components: list[str], base_url: str) -> None:
    deadline = time.monotonic() + args.timeout

    def check_alive() -> None:
        for component in components:
            if running_pid(args.run_dir, component) is None:
                raise StartupFailed(f"{component} exited during startup")

    waiting: list[str] = list(components)
    while waiting:
        check_alive()
        if time.monotonic() > deadline:
            raise StartupFailed(f"not healthy after {args.timeout:.0f}s: {', '.join(waiting)}")
        time.sleep(1.0)
        waiting = unhealthy(base_url, components)
    print(f"healthy: {', '.join(['metadatabase', *components])}", flush=True)
    if args.passwords is None:
        return
    token = admin_token(base_url, args.passwords)
    expected = expected_dag_ids(args.catalog)
    missing, errors = expected, []
    while missing:
        check_alive()
        if errors:
            raise StartupFailed("DAG import errors:\n" + "\n".join(errors))
        if time.monotonic() > deadline:
            raise StartupFailed(f"DAGs not parsed after {args.timeout:.0f}s: {', '.join(sorted(missing))}")
        time.sleep(1.0)
        missing, errors = missing_dags(base_url, token, expected)
    print(f"DAGs parsed: {len(expected)} ({', '.join(sorted(expected))})", flush=True)


def up(args: argparse.Namespace) -> int:
    args.run_dir.mkdir(parents=True, exist_ok=True)
    components = [c.strip() for c in args.components.split(",") if c.strip()]
    unknown = sorted(set(components) - set(COMPONENTS))
    if unknown:
        print(f"unknown components {unknown}; choose from {', '.join(COMPONENTS)}", file=sys.stderr)
        return 2
    airflow = Path(sys.executable).with_name("airflow")
    env = component_env(args.port)
    started = []
    for component in components:
        if (pid := running_pid(args.run_dir, component)) is not None:
            print(f"{component} already running (pid {pid})", flush=True)
            continue
        if component == "api-server" and port_in_use(args.port):
            print(
                f"port {args.port} on {HOST} is taken by another program: choose another port",
                file=sys.stderr,
            )
            stop(args.run_dir, started)
            return 1
        pid = start(
            args.run_dir, component, component_argv(airflow, component, args.port, args.api_workers), env
        )
        started.append(component)
        print(f"started {component} (pid {pid}, log {log_file(args.run_dir, component)})", flush=True)
    base_url = f"http://{HOST}:{args.port}"
    try:
        wait_until_ready(args, components, base_url)
    except (StartupFailed, urllib.error.URLError) as exc:
        print(f"Airflow did not come up: {exc}", file=sys.stderr)
        for component in components:
            print(f"--- {log_file(args.run_dir, component)} (tail)\n{tail(log_file(args.run_dir, component))}",
                  file=sys.stderr)  # fmt: skip
        stop(args.run_dir, started)
        return 1
    print(f"Airflow up at {base_url} (UI and /api/v2; logs in {args.run_dir})", flush=True)
    return 0


def down(args: argparse.Namespace) -> int:
    stopped = stop(args.run_dir, list(COMPONENTS), args.grace)
    print(f"stopped: {', '.join(stopped) or 'nothing was running'}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("up", help="start the components and wait until they are healthy")
    start_parser.add_argument("--run-dir", type=Path, required=True, help="pid files and logs")
    start_parser.add_argument("--port", type=int, default=8080)
    start_parser.add_argument("--components", default=",".join(COMPONENTS))
    start_parser.add_argument("--api-workers", type=int, default=1)
    start_parser.add_argument(
        "--timeout", type=float, default=240.0, help="seconds to wait for health and DAGs"
    )
    start_parser.add_argument("--passwords", type=Path, help="wait until the admin sees every catalog DAG")
    start_parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    stop_parser = commands.add_parser("down", help="stop every component started by `up`")
    stop_parser.add_argument("--run-dir", type=Path, required=True)
    stop_parser.add_argument("--grace", type=float, default=STOP_GRACE_S, help="seconds before SIGKILL")
    args = parser.parse_args(argv)
    return up(args) if args.command == "up" else down(args)


if __name__ == "__main__":
    raise SystemExit(main())
