"""Serving latency while a champion moves: a swap must cost no failed request and no stall.

Run through `make bench-serving-swap`, or directly:
    services/serving/.venv/bin/python bench/bench_serving_swap.py [--concurrency 16] [--steady 4]

One run: a private MLflow tracking server, a power-sized LightGBM regressor and an MNIST-sized ONNX CNN as
champions, one `mlops-serve` on both (registry poll every `--poll-interval-s`, 1 s by default). For each
model in turn, the same client as bench_serving.py (keep-alive HTTP/1.1, `--concurrency` requests in flight,
one row / one image) loads it for `--steady` seconds (the first one discarded), then a second version is
promoted while the load goes on, until that version has answered for `--steady` seconds more. Prints
p50/p99/max latency before the promotion (the baseline, same run), in the swap window (from the promotion
until the new version has answered for one second) and after, the max ÷ baseline max, and the failed
requests. Exits 1 when a request fails or the new version never answers.
"""

import argparse
import asyncio
import gc
import os
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import orjson
import peers.servers as servers
from bench_serving import (
    _read_response,
    http_request,
    log_mnist_sized_cnn,
    power_sized_booster,
    private_registry,
    running,
)

from mlops_core.registry import promote
from mlops_core.testing import free_port
from mlops_core.tracking import connect
from serving.testing.models import log_booster, register_champion


@dataclass(frozen=True)
class Answer:
    sent: float  # time.monotonic()
    latency: float
    status: int
    version: str | None


async def _connection(port: int, request: bytes, stop: threading.Event, answers: list[Answer]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while not stop.is_set():
            sent = time.monotonic()
            writer.write(request)
            status, body = await _read_response(reader)
            version = orjson.loads(body).get("version") if status == 200 else None
            answers.append(Answer(sent, time.monotonic() - sent, status, version))
    finally:
        writer.close()


def _load(port: int, request: bytes, concurrency: int, stop: threading.Event) -> list[Answer]:
    answers: list[Answer] = []

    async def run() -> None:
        await asyncio.gather(*(_connection(port, request, stop, answers) for _ in range(concurrency)))

    # The answers are ~10^5 tracked objects: the collector walking them would stall this client for 100+ ms
    # and put the stall on the server's account.
    gc.disable()
    try:
        asyncio.run(run())
    finally:
        gc.enable()
    return answers


def _stats(answers: list[Answer]) -> str:
    if not answers:
        return "no requests"
    ms = np.array([a.latency for a in answers]) * 1000
    return (f"{len(answers):>6} requests  p50 {np.percentile(ms, 50):6.2f}  p99 {np.percentile(ms, 99):6.2f}  "
            f"max {ms.max():7.2f} ms")  # fmt: skip


def _swap(port: int, client, model: str, path: str, body: dict, new_version: str, args) -> bool:
    """Load `model`, promote `new_version` mid-load; print the windows; True when nothing failed."""
    stop, answers = threading.Event(), []
    loader = threading.Thread(
        target=lambda: answers.extend(_load(port, http_request(port, path, body), args.concurrency, stop))
    )
    started = time.monotonic()
    loader.start()
    time.sleep(args.steady)
    promoted = time.monotonic()
    promote(client, model, new_version, actor="bench-serving-swap", reason="swap under load")
    deadline = promoted + args.max_seconds
    swapped = False
    while not swapped and time.monotonic() < deadline:
        time.sleep(0.2)
        # `answers` fills only when the loader ends: ask for the served version over HTTP meanwhile.
        swapped = _served_version(port, model) == new_version
    if swapped:
        time.sleep(args.steady)
    stop.set()
    loader.join()
    first_new = min((a.sent for a in answers if a.version == new_version), default=None)
    if first_new is None:
        print(f"{model}: version {new_version} never answered in {args.max_seconds:.0f}s")
        return False
    before = [a for a in answers if started + 1.0 <= a.sent < promoted]  # the first second warms up
    window = [a for a in answers if promoted <= a.sent < first_new + 1.0]
    after = [a for a in answers if a.sent >= first_new + 1.0]
    failed = [a for a in answers if a.status != 200]
    versions = sorted({a.version for a in answers if a.version is not None})
    print(
        f"\n{model}: versions answered {versions}, swap took {first_new - promoted:.2f}s after the promotion"
    )
    print(f"  before the promotion  {_stats(before)}")
    print(f"  swap window           {_stats(window)}")
    print(f"  after                 {_stats(after)}")
    if before and window:
        ratio = max(a.latency for a in window) / max(a.latency for a in before)
        print(f"  swap window max ÷ max before: {ratio:.2f}")
    print(
        f"  failed requests: {len(failed)}"
        + (f" (statuses {sorted({a.status for a in failed})})" if failed else "")
    )
    return not failed


def _served_version(port: int, model: str) -> str | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models/{model}", timeout=5) as response:
        return orjson.loads(response.read()).get("version")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (connections)")
    parser.add_argument("--steady", type=float, default=4.0, help="seconds of load before and after a swap")
    parser.add_argument(
        "--poll-interval-s", type=float, default=1.0, help="serving's registry poll (its default is 15)"
    )
    parser.add_argument("--max-seconds", type=float, default=60.0, help="how long a swap may take")
    args = parser.parse_args()

    with private_registry("bench-serving-swap-") as (work, tracking):
        client = connect(tracking.uri)
        power = power_sized_booster()
        register_champion(client, "power_lgbm", log_booster(client, power))
        register_champion(client, "mnist_cnn", log_mnist_sized_cnn(client))
        # The versions swapped to: as big as the first ones, other weights.
        new_versions = {
            "power_lgbm": mlflow.register_model(
                log_booster(client, power_sized_booster(1)), "power_lgbm"
            ).version,
            "mnist_cnn": mlflow.register_model(log_mnist_sized_cnn(client, seed=1), "mnist_cnn").version,
        }
        rows = np.resize(power.sample, (1, power.sample.shape[1]))
        rows[:, -1] = np.round(rows[:, -1])
        pixels = np.random.default_rng(0).integers(0, 256, size=(1, 28, 28))
        inputs = servers.Inputs(power.features, rows, pixels, len(power.features) - 1)
        port = free_port()
        command = [str(Path(sys.executable).parent / "mlops-serve"), "--models", "power_lgbm,mnist_cnn",
                   "--host", "127.0.0.1", "--port", str(port), "--poll-interval-s", str(args.poll_interval_s)]  # fmt: skip
        requests = servers.ours_v1(port, inputs, ["power/1", "mnist/1"], command).requests
        env = {**os.environ, "MLFLOW_TRACKING_URI": tracking.uri, "MLOPS_LOG_FORMAT": "json"}
        print(f"concurrency {args.concurrency}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        with running(command, "/readyz", port, env, work / "mlops-serve.log"):
            passed = all(
                [
                    _swap(port, client, model, *requests[case], str(new_versions[model]), args)
                    for case, model in (("power/1", "power_lgbm"), ("mnist/1", "mnist_cnn"))
                ]
            )
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
