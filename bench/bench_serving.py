"""Serving throughput and latency: our `mlops-serve` vs `mlflow models serve` on the same model versions.

Run with the serving venv plus its `bench` extra (full mlflow provides `mlflow models serve`):
    uv pip install --python services/serving/.venv/bin/python -e "services/serving[bench]"
    services/serving/.venv/bin/python bench/bench_serving.py [--concurrency 16] [--seconds 10]

One run: starts a private MLflow tracking server, registers a power-sized LightGBM regressor and an
MNIST-sized ONNX CNN as champions, starts `mlops-serve` (both models) and one `mlflow models serve` per
model (one worker process each, default settings), checks they give the same answers, then loads them
in alternating rounds with the same client (keep-alive HTTP/1.1, `--concurrency` requests in flight,
single-row / single-image requests), so drifting background load hits both alike. Prints requests/s,
p50 and p99 latency, and our/mlflow ratios against the targets (>= 5x power, >= 3x MNIST, p99 no
worse); exits 1 when a target is missed. Each server takes its own API's format: ours 0..255 pixel
arrays and `records`, mlflow's `inputs` float tensors in [0, 1] and `dataframe_split`.
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
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
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


@dataclass
class Target:
    """One (server, model) pair under test and everything measured against it so far."""

    server: str
    model: str
    port: int
    request: bytes
    latencies: list[float] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def run(self, runner, concurrency: int, seconds: float, keep: bool = True) -> None:
        started = time.perf_counter()
        latencies, errors = runner(_load(self.port, self.request, concurrency, seconds))
        if keep:
            self.seconds += time.perf_counter() - started
            self.latencies += latencies
            self.errors += errors

    def result(self) -> Result:
        lat = np.asarray(self.latencies) * 1000
        return Result(self.server, self.model, len(lat), len(self.errors), round(self.seconds, 2),
                      round(len(lat) / self.seconds, 1), round(float(np.percentile(lat, 50)), 2),
                      round(float(np.percentile(lat, 99)), 2))  # fmt: skip


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
    parser.add_argument("--seconds", type=float, default=12.0, help="measurement time per server and model")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds the time is split into")
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
        # Every server runs for the whole measurement; rounds alternate between them so that drifting
        # background load on a shared machine hits both sides alike.
        targets: list[Target] = []
        answers: dict[str, dict] = {}
        with ExitStack() as stack:
            port = free_port()
            serve = [str(bin_dir / "mlops-serve"), "--models", "power_lgbm,mnist_cnn", "--host", "127.0.0.1",
                     "--port", str(port)]  # fmt: skip
            stack.enter_context(running(serve, "/readyz", port, env, work / "mlops-serve.log"))
            for model, (path, body) in ours.items():
                answers[f"ours/{model}"] = _post(port, path, body)
                targets.append(Target("mlops-serve", model, port, http_request(port, path, body)))
            for model, (path, body) in theirs.items():
                port = free_port()
                command = [str(bin_dir / "mlflow"), "models", "serve", "-m", f"models:/{model}/1", "--env-manager",
                           "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]  # fmt: skip
                stack.enter_context(running(command, "/ping", port, env, work / f"mlflow-{model}.log"))
                answers[f"mlflow/{model}"] = _post(port, path, body)
                targets.append(Target("mlflow models serve", model, port, http_request(port, path, body)))
            runner = _event_loop_runner()
            for target in targets:
                target.run(runner, args.concurrency, 2.0, keep=False)  # warm-up, discarded
            for _ in range(args.rounds):
                for target in targets:
                    target.run(runner, args.concurrency, args.seconds / args.rounds)
        results = [target.result() for target in targets]

    passed = report(results, answers, args)
    if args.json_out:
        args.json_out.write_text(json.dumps({"results": [asdict(r) for r in results]}, indent=2))
    raise SystemExit(0 if passed else 1)


def report(results: list[Result], answers: dict[str, dict], args: argparse.Namespace) -> bool:
    """Print the table and the verdicts; True when both servers agree and every target is met."""
    # Same answers from both servers (same versions, same inputs).
    ours_power = answers["ours/power_lgbm"]["predictions"][0]
    theirs_power = answers["mlflow/power_lgbm"]["predictions"][0]
    ours_digit = np.asarray(answers["ours/mnist_cnn"]["predictions"][0]["probabilities"])
    theirs_digit = _softmax(np.asarray(answers["mlflow/mnist_cnn"]["predictions"]["logits"]))[0]
    agree = abs(ours_power - theirs_power) < 1e-9 and bool(np.allclose(ours_digit, theirs_digit, atol=1e-4))

    print(f"\nconcurrency {args.concurrency}, {args.seconds:.0f}s per measurement in {args.rounds} rounds, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; predictions agree: {agree}")  # fmt: skip
    print(f"{'server':<22}{'model':<12}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for r in results:
        print(f"{r.server:<22}{r.model:<12}{r.rps:>10.1f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}{r.errors:>8}")
    by = {(r.server, r.model): r for r in results}
    verdicts = [agree]
    for model, target in TARGETS.items():
        mine, base = by[("mlops-serve", model)], by[("mlflow models serve", model)]
        ratio = mine.rps / base.rps
        ok = ratio >= target and mine.p99_ms <= base.p99_ms and mine.errors == 0
        verdicts.append(ok)
        print(f"{model}: {ratio:.1f}x throughput (target >= {target:.0f}x), p99 {mine.p99_ms:.2f} vs "
              f"{base.p99_ms:.2f} ms -> {'PASS' if ok else 'MISS'}")  # fmt: skip
    return all(verdicts)


if __name__ == "__main__":
    main()
