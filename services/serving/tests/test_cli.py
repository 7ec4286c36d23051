"""The `mlops-serve` process: configured from env/options, drains in-flight requests on SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import Champions
from typer.testing import CliRunner
from utils.server import wait_until

from mlops_core.logs import configure_logging
from mlops_core.testing import MlflowServer, free_port
from serving import cli

CLI = str(Path(sys.executable).parent / "mlops-serve")


def _record(champions: Champions) -> dict[str, float | int]:
    record = dict(zip(champions.power.features, champions.power.sample[0].tolist(), strict=True))
    record["hour"] = int(record["hour"])
    return record


def test_sigterm_drains_in_flight_requests(
    mlflow_server: MlflowServer, champions: Champions, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": mlflow_server.uri,
        "SERVING_MODELS": "power_lgbm",
        "SERVING_HOST": "127.0.0.1",
        # A long batch wait keeps requests in flight while the signal arrives.
        "SERVING_MAX_WAIT_MS": "800",
        "MLOPS_LOG_FORMAT": "json",
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([CLI, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                return False

        wait_until(ready, timeout=120, interval=0.3)
        body = {"records": [_record(champions)]}
        with ThreadPoolExecutor(max_workers=4) as pool:
            in_flight = [pool.submit(httpx.post, f"{url}/v1/models/power_lgbm:predict", json=body, timeout=30)
                         for _ in range(4)]  # fmt: skip
            time.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            responses = [future.result() for future in in_flight]
        # Uvicorn re-raises the signal once drained, so the exit status is the signal's own.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()

    assert [r.status_code for r in responses] == [200] * 4
    assert {r.json()["version"] for r in responses} == {"1"}
    output = (tmp_path / "serve.log").read_text()
    assert "serving stopped" in output
    assert "Traceback" not in output


def test_sigterm_first_drains_keep_alive_clients_then_shuts_down(
    mlflow_server: MlflowServer, champions: Champions, tmp_path: Path
) -> None:
    port, drain_s = free_port(), 5.0
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": mlflow_server.uri,
        "SERVING_MODELS": "power_lgbm",
        "SERVING_DRAIN_S": str(drain_s),
        "MLOPS_LOG_FORMAT": "json",
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [CLI, "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url, body = f"http://127.0.0.1:{port}", {"records": [_record(champions)]}
    try:

        def ready() -> bool:
            assert process.poll() is None, log_path.read_text()
            try:
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, timeout=120, interval=0.3)
        with httpx.Client(base_url=url, timeout=10) as client:
            before = client.post("/v1/models/power_lgbm:predict", json=body)
            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            time.sleep(0.3)
            # Still serving, on the same keep-alive client, but each answer closes its connection.
            during = [client.post("/v1/models/power_lgbm:predict", json=body) for _ in range(20)]
            readiness = client.get("/readyz")
            assert time.monotonic() - signalled < drain_s, "the checks took longer than the drain"
            assert process.poll() is None, "the server stopped before the drain ended"
        exit_status = process.wait(timeout=drain_s + 30)
        stopped_after = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()

    assert before.status_code == 200 and before.headers.get("connection", "").lower() != "close"
    assert [r.status_code for r in during] == [200] * 20
    assert {r.headers.get("connection", "").lower() for r in during} == {"close"}
    assert readiness.status_code == 503 and readiness.json()["draining"] is True
    assert exit_status in (0, -signal.SIGTERM)
    assert stopped_after >= drain_s
    output = log_path.read_text()
    assert "draining" in output and "serving stopped" in output
    assert "Traceback" not in output


def test_invalid_settings_fail_fast_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("SERVING_MAX_BATCH_SIZE", "0")
    try:
        result = CliRunner().invoke(cli.app, ["--port", "8081"])
    finally:
        configure_logging()  # the CLI bound structlog to the runner's (now closed) stderr
    assert result.exit_code == 2
    assert "invalid serving settings" in result.output
    assert "max_batch_size" in result.output


def test_workers_each_serve_every_model(
    mlflow_server: MlflowServer, champions: Champions, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri, "MLOPS_LOG_FORMAT": "json"}
    argv = [
        CLI,
        "--workers",
        "2",
        "--models",
        "power_lgbm,mnist_cnn",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:

        def both_ready() -> bool:
            output = log_path.read_text()
            assert process.poll() is None, output
            try:  # each worker loads both models itself
                return (
                    output.count('"now serving"') == 4
                    and httpx.get(f"{url}/readyz", timeout=2).status_code == 200
                )
            except httpx.TransportError:
                return False

        wait_until(both_ready, timeout=180, interval=0.5)
        body = {"records": [_record(champions)]}
        answers = [httpx.post(f"{url}/v1/models/power_lgbm:predict", json=body, timeout=30) for _ in range(6)]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)

    assert [a.status_code for a in answers] == [200] * 6
    assert len({a.json()["predictions"][0] for a in answers}) == 1
    assert log_path.read_text().count("serving started") == 2
