"""Serving throughput and latency: our `mlops-serve` vs `mlflow models serve` on the same model versions.

Run with the serving venv plus its `bench` extra (full mlflow provides `mlflow models serve`):
    uv pip install --python services/serving/.venv/bin/python -e "services/serving[bench]"
    services/serving/.venv/bin/python bench/bench_serving.py [--concurrency 16] [--seconds 10]

One run: starts a private MLflow tracking server, registers a power-sized LightGBM regressor and an
MNIST-sized ONNX CNN as champions, then measures each server in turn (one worker process each, same
machine, same client: keep-alive HTTP/1.1 connections, `--concurrency` requests in flight, single-row /
single-image requests). Prints requests/s, p50 and p99 latency, and our/mlflow ratios against the
targets (>= 5x for power, >= 3x for MNIST, p99 no worse).
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mlops_core.testing import MlflowServer, free_port
from mlops_core.tracking import connect
from serving.testing.models import log_booster, log_cnn, register_champion, train_booster

TARGETS = {"power_lgbm": 5.0, "mnist_cnn": 3.0}


@dataclass(frozen=True)
class Result:
    server: str
    model: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float


# --- load generator ------------------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status = int((await reader.readline()).split(b" ", 2)[1])
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = b""
    while size := int((await reader.readline()).strip(), 16):
        body += await reader.readexactly(size + 2)
    await reader.readline()
    return status, body


async def _connection(
    port: int, request: bytes, until: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    try:
        while loop.time() < until:
            started = time.perf_counter()
            writer.write(request)
            status, _ = await _read_response(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def _load(port: int, request: bytes, concurrency: int, seconds: float) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    errors: list[int] = []
    until = asyncio.get_running_loop().time() + seconds
    await asyncio.gather(*(_connection(port, request, until, latencies, errors) for _ in range(concurrency)))
    return latencies, errors


def http_request(port: int, path: str, body: dict) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + payload


def measure(server: str, model: str, port: int, request: bytes, concurrency: int, seconds: float) -> Result:
    runner = _event_loop_runner()
    runner(_load(port, request, concurrency, min(2.0, seconds / 4)))  # warm-up, discarded
    started = time.perf_counter()
    latencies, errors = runner(_load(port, request, concurrency, seconds))
    elapsed = time.perf_counter() - started
    lat = np.asarray(latencies) * 1000
    return Result(server, model, len(lat), len(errors), round(elapsed, 2), round(len(lat) / elapsed, 1),
                  round(float(np.percentile(lat, 50)), 2), round(float(np.percentile(lat, 99)), 2))  # fmt: skip


def _event_loop_runner():
    try:
        import uvloop

        return uvloop.run
    except ImportError:
        return asyncio.run


# --- servers -------------------------------------------------------------------------------------


def _post(port: int, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout}s:\n{log.read_text()[-3000:]}")


@contextmanager
def running(command: list[str], ready_path: str, port: int, env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_http(f"http://127.0.0.1:{port}{ready_path}", process, log)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


# --- the run -------------------------------------------------------------------------------------


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (connections)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement time per server and model")
    parser.add_argument("--json-out", type=Path, help="also write the results here")
    args = parser.parse_args()

    bin_dir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with MlflowServer(work / "mlflow") as tracking:
        client = connect(tracking.uri)
        # Sizes of the real workloads: power ~ 24 features, 63 leaves, a few hundred trees; MNIST a
        # conv32-conv64-fc128 network.
        power = train_booster("regression", n_features=24, trees=300, seed=0, leaves=63, rows=20_000)
        register_champion(client, "power_lgbm", log_booster(client, power))
        register_champion(client, "mnist_cnn", log_cnn(client, 1, 28, widths=(32, 64), hidden=128))

        record = dict(zip(power.features, power.sample[0].tolist(), strict=True))
        record["hour"] = int(record["hour"])
        pixels = np.random.default_rng(0).integers(0, 256, size=(28, 28))
        ours = {
            "power_lgbm": ("/v1/models/power_lgbm:predict", {"records": [record]}),
            "mnist_cnn": ("/v1/models/mnist_cnn:predict", {"images": [pixels.tolist()]}),
        }
        theirs = {
            "power_lgbm": (
                "/invocations",
                {"dataframe_split": {"columns": list(record), "data": [list(record.values())]}},
            ),
            "mnist_cnn": (
                "/invocations",
                {"inputs": {"images": (pixels / 255.0).round(6)[None, None].tolist()}},
            ),
        }
        # `mlflow models serve` execs `uvicorn` from PATH: the venv's own.
        path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {**os.environ, "PATH": path, "MLFLOW_TRACKING_URI": tracking.uri, "MLOPS_LOG_FORMAT": "json"}
        results: list[Result] = []

        port = free_port()
        serve = [str(bin_dir / "mlops-serve"), "--models", "power_lgbm,mnist_cnn", "--host", "127.0.0.1",
                 "--port", str(port)]  # fmt: skip
        answers: dict[str, dict] = {}
        with running(serve, "/readyz", port, env, work / "mlops-serve.log"):
            for model, (path, body) in ours.items():
                answers[f"ours/{model}"] = _post(port, path, body)
                results.append(measure("mlops-serve", model, port, http_request(port, path, body), args.concurrency,
                                       args.seconds))  # fmt: skip
        for model, (path, body) in theirs.items():
            port = free_port()
            command = [str(bin_dir / "mlflow"), "models", "serve", "-m", f"models:/{model}/1", "--env-manager",
                       "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]  # fmt: skip
            with running(command, "/ping", port, env, work / f"mlflow-{model}.log"):
                answers[f"mlflow/{model}"] = _post(port, path, body)
                results.append(measure("mlflow models serve", model, port, http_request(port, path, body),
                                       args.concurrency, args.seconds))  # fmt: skip

    # Same answers from both servers (same versions, same inputs).
    ours_power = answers["ours/power_lgbm"]["predictions"][0]
    theirs_power = answers["mlflow/power_lgbm"]["predictions"][0]
    ours_digit = np.asarray(answers["ours/mnist_cnn"]["predictions"][0]["probabilities"])
    theirs_digit = _softmax(np.asarray(answers["mlflow/mnist_cnn"]["predictions"]["logits"]))[0]
    agree = abs(ours_power - theirs_power) < 1e-9 and bool(np.allclose(ours_digit, theirs_digit, atol=1e-4))

    print(f"\nconcurrency {args.concurrency}, {args.seconds:.0f}s per measurement, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; predictions agree: {agree}")  # fmt: skip
    print(f"{'server':<22}{'model':<12}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for r in results:
        print(f"{r.server:<22}{r.model:<12}{r.rps:>10.1f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}{r.errors:>8}")
    by = {(r.server, r.model): r for r in results}
    verdicts = []
    for model, target in TARGETS.items():
        mine, base = by[("mlops-serve", model)], by[("mlflow models serve", model)]
        ratio = mine.rps / base.rps
        ok = ratio >= target and mine.p99_ms <= base.p99_ms and mine.errors == 0
        verdicts.append(ok)
        print(f"{model}: {ratio:.1f}x throughput (target >= {target:.0f}x), p99 {mine.p99_ms:.2f} vs "
              f"{base.p99_ms:.2f} ms -> {'PASS' if ok else 'MISS'}")  # fmt: skip
    if args.json_out:
        args.json_out.write_text(
            json.dumps({"results": [asdict(r) for r in results], "agree": agree}, indent=2)
        )
    raise SystemExit(0 if all(verdicts) and agree else 1)


if __name__ == "__main__":
    main()
