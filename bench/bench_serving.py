"""Serving throughput and latency: our `mlops-serve` against the servers users would pick instead.

Run through `make bench-serving` (it installs the serving venv's `bench` extra and each peer's own
virtualenv under bench/peers/), or directly:
    services/serving/.venv/bin/python bench/bench_serving.py [--concurrency 16] [--seconds 12] \
        [--cases power/1,power/64,mnist/1,mnist/32] [--peers mlserver,mlserver-batching,bentoml,mlflow]

One run: starts a private MLflow tracking server, registers a power-sized LightGBM regressor and an
MNIST-sized ONNX CNN as champions, and starts, on those same versions, `mlops-serve` (both models; /v1 and
its V2 API), MLServer (LightGBM and MLflow runtimes, V2 REST; plain and with adaptive batching), a minimal
BentoML service (bench/peers/bentoml) and `mlflow models serve` (one process per model) - one worker and
one CPU thread for model calls each. It checks every server answers every case like the bare runtime does
(the same booster / ONNX session called in-process), then loads them in alternating rounds with the same
client (keep-alive HTTP/1.1, `--concurrency` requests in flight), so drifting background load hits all
alike. Prints req/s, p50/p99/max latency per server and case, ours ÷ each peer, and served ÷ bare runtime
(the bare runtime's calls/s on the same inputs, one thread, measured in every round after the servers).
Exits 1 when the answers disagree or a target is missed: against `mlflow models serve` (>= 5x power, >= 3x
MNIST, single row / image, p99 no worse); against the best peer (single row / image >= 2x at a p99 no worse;
64 rows / 32 images >= 1x and >= 0.8 of the bare runtime); a maximum latency under 100 ms over ours, /v1
and V2, one worker, in every case.
A peer whose virtualenv is missing is skipped with a note.
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
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import peers.servers as servers
from mlflow.tracking import MlflowClient

from mlops_core.testing import MlflowServer, free_port
from mlops_core.tracking import connect
from serving.testing.models import TabularModel, log_booster, log_cnn, register_champion, train_booster

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
    max_ms: float


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
                      round(float(np.percentile(lat, 99)), 2), round(float(lat.max()), 2))  # fmt: skip


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
def running(
    command: list[str], ready_path: str, port: int, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_http(f"http://127.0.0.1:{port}{ready_path}", process, log)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def tree_rss_mib(pid: int) -> tuple[float, int]:
    """Resident memory of a process and all its descendants (MiB), and how many processes that is."""
    pids, total_kib = [pid], 0
    for current in pids:
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total_kib += next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
        pids += [int(child) for child in children]
    return total_kib / 1024, len(pids)


@contextmanager
def private_registry(prefix: str) -> Iterator[tuple[Path, MlflowServer]]:
    """A temporary folder (removed afterwards) and a private MLflow tracking server storing into it."""
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with (
        tempfile.TemporaryDirectory(prefix=prefix) as folder,
        MlflowServer(Path(folder) / "mlflow") as tracking,
    ):
        yield Path(folder), tracking


def power_sized_booster(seed: int = 0) -> TabularModel:
    """The real power model's size: 24 features, 63 leaves, a few hundred trees."""
    return train_booster("regression", n_features=24, trees=300, seed=seed, leaves=63, rows=20_000)


def log_mnist_sized_cnn(client: MlflowClient, seed: int = 0) -> str:
    """The real MNIST network's size: conv32-conv64-fc128."""
    return log_cnn(client, 1, 28, widths=(32, 64), hidden=128, seed=seed)


# --- the run -------------------------------------------------------------------------------------

DEFAULT_CASES = "power/1,power/64,mnist/1,mnist/32"
DEFAULT_PEERS = "mlserver,mlserver-batching,bentoml,mlflow"
OURS = "mlops-serve"


@dataclass
class Bare:
    """The bare runtime on one case's inputs (one thread), measured in the same rounds as the servers."""

    call: Callable[[], np.ndarray]
    answer: np.ndarray
    calls: int = 0
    seconds: float = 0.0

    def run(self, seconds: float) -> None:
        started, calls = time.perf_counter(), 0
        while (elapsed := time.perf_counter() - started) < seconds:
            self.call()
            calls += 1
        self.calls += calls
        self.seconds += elapsed

    @property
    def rate(self) -> float:
        return self.calls / self.seconds


def _bare(case: str, booster, session, inputs: servers.Inputs) -> Bare:
    model, n = case.split("/")
    if model == "power":
        rows = inputs.rows[: int(n)].astype(np.float64)
        call = lambda: booster.predict(rows, num_threads=1)  # noqa: E731
    else:
        images = inputs.unit_images(int(n))
        name = session.get_inputs()[0].name
        call = lambda: servers.softmax(session.run(None, {name: images})[0].astype(np.float64))  # noqa: E731
    return Bare(call, np.asarray(call()))


def _agrees(case: str, answer: np.ndarray, reference: np.ndarray) -> bool:
    if answer.shape != reference.shape:
        return False
    if case.startswith("power"):
        return bool(np.allclose(answer, reference, rtol=1e-9, atol=1e-12))
    return bool(np.allclose(answer, reference, atol=1e-4))


def _peers(names: list[str], inputs, cases, models, work, bin_dir) -> tuple[list, list[str]]:
    found, notes = [], []
    for name in names:
        if name in ("mlserver", "mlserver-batching"):
            peer = servers.mlserver(
                free_port(), inputs, cases, models, work, batching=name.endswith("batching")
            )
        elif name == "bentoml":
            peer = servers.bentoml(free_port(), inputs, cases, models)
        elif name == "mlflow":
            found += [
                servers.mlflow_serve(free_port(), inputs, cases, bin_dir, m)
                for m in ("power_lgbm", "mnist_cnn")
            ]
            continue
        else:
            raise SystemExit(f"unknown peer {name!r} (known: {DEFAULT_PEERS})")
        if peer is None:
            notes.append(f"{name}: skipped, its virtualenv is missing (make bench-serving installs it)")
        else:
            found.append(peer)
    return found, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (connections)")
    parser.add_argument("--seconds", type=float, default=12.0, help="measurement time per server and case")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds the time is split into")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="discarded load per server and case, seconds"
    )
    parser.add_argument("--cases", default=DEFAULT_CASES, help="model/batch-size cases")
    parser.add_argument("--peers", default=DEFAULT_PEERS, help="peer servers to compare with")
    parser.add_argument(
        "--workers", type=int, default=2, help="also run ours with this many workers (1: not)"
    )
    parser.add_argument("--json-out", type=Path, help="also write the results here")
    args = parser.parse_args()
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]

    bin_dir = Path(sys.executable).parent
    with private_registry("bench-serving-") as (work, tracking):
        client = connect(tracking.uri)
        power = power_sized_booster()
        register_champion(client, "power_lgbm", log_booster(client, power))
        register_champion(client, "mnist_cnn", log_mnist_sized_cnn(client))
        rows = np.resize(power.sample, (64, power.sample.shape[1]))
        rows[:, -1] = np.round(rows[:, -1])
        pixels = np.random.default_rng(0).integers(0, 256, size=(32, 28, 28))
        inputs = servers.Inputs(power.features, rows, pixels, len(power.features) - 1)
        power_dir = Path(
            mlflow.artifacts.download_artifacts("models:/power_lgbm/1", dst_path=str(work / "power"))
        )
        mnist_dir = Path(
            mlflow.artifacts.download_artifacts("models:/mnist_cnn/1", dst_path=str(work / "mnist"))
        )
        models = {"power_file": power_dir / "model.lgb", "mnist_dir": mnist_dir}

        import lightgbm as lgb
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(
            str(mnist_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        booster = lgb.Booster(model_file=str(models["power_file"]))
        bare = {case: _bare(case, booster, session, inputs) for case in cases}

        port = free_port()
        serve = [str(bin_dir / "mlops-serve"), "--models", "power_lgbm,mnist_cnn", "--host", "127.0.0.1",
                 "--port", str(port), "--max-rows", "256"]  # fmt: skip
        ours = [servers.ours_v1(port, inputs, cases, serve), servers.ours_v2(port, inputs, cases)]
        if args.workers > 1:
            scaled_port = free_port()
            scaled = [*serve, "--workers", str(args.workers)]
            scaled[scaled.index("--port") + 1] = str(scaled_port)
            ours.append(servers.ours_v1(scaled_port, inputs, cases, scaled))
            ours[-1].name = f"{OURS} ({args.workers} workers)"
        peers, notes = _peers(
            [p.strip() for p in args.peers.split(",") if p.strip()], inputs, cases, models, work, bin_dir
        )
        env = {**os.environ, "PATH": servers.path_with(bin_dir), "MLFLOW_TRACKING_URI": tracking.uri,
               "MLOPS_LOG_FORMAT": "json"}  # fmt: skip
        targets: list[Target] = []
        agreement: dict[tuple[str, str], bool] = {}
        processes: dict[str, subprocess.Popen] = {}
        with ExitStack() as stack:
            for server in [*ours, *peers]:
                if server.command is not None:
                    log = work / f"{server.name.replace(' ', '-')}-{server.port}.log"
                    processes[server.name] = stack.enter_context(running(
                        server.command, server.ready_path, server.port, {**env, **server.env}, log))  # fmt: skip
                for case, (path, body) in server.requests.items():
                    answer = server.parse(case, _post(server.port, path, body))
                    agreement[(server.name, case)] = _agrees(case, answer, bare[case].answer)
                    targets.append(
                        Target(server.name, case, server.port, http_request(server.port, path, body))
                    )
            runner = _event_loop_runner()
            for target in targets:
                target.run(runner, args.concurrency, args.warmup, keep=False)  # warm-up, discarded
            for _ in range(args.rounds):
                for target in targets:
                    target.run(runner, args.concurrency, args.seconds / args.rounds)
                for runtime in bare.values():  # the same background as the servers' rounds
                    runtime.run(args.seconds / args.rounds)
            memory = {name: tree_rss_mib(process.pid) for name, process in processes.items()}
        results = [target.result() for target in targets]

    rates = {case: runtime.rate for case, runtime in bare.items()}
    passed = report(results, agreement, rates, notes, args)
    print("\nresident memory after the run (process and children):")
    for name, (mib, count) in memory.items():
        print(f"  {name:<30}{mib:>8.0f} MiB in {count} process(es)")
    if args.json_out:
        args.json_out.write_text(json.dumps({"results": [asdict(r) for r in results],
                                             "bare_calls_per_s": rates}, indent=2))  # fmt: skip
    raise SystemExit(0 if passed else 1)


def report(
    results: list[Result],
    agreement: dict[tuple[str, str], bool],
    bare: dict[str, float],
    notes: list[str],
    args: argparse.Namespace,
) -> bool:
    """Print the tables and the verdicts; True when every answer agrees and every target is met."""
    print(f"\nconcurrency {args.concurrency}, {args.seconds:.0f}s per measurement in {args.rounds} rounds, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    for note in notes:
        print(f"note: {note}")
    disagree = [f"{server} {case}" for (server, case), ok in agreement.items() if not ok]
    print(f"answers agree with the bare runtime: {'yes' if not disagree else 'NO: ' + ', '.join(disagree)}")
    by = {(r.server, r.model): r for r in results}
    for case in dict.fromkeys(r.model for r in results):
        print(f"\n{case} (bare runtime {bare[case]:.0f} calls/s)")
        print(
            f"{'server':<30}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'errors':>8}{'ours ÷':>9}"
        )
        mine = by.get((OURS, case))
        for r in (r for r in results if r.model == case):
            ratio = f"{mine.rps / r.rps:.2f}x" if mine is not None and r.server != OURS else ""
            print(
                f"{r.server:<30}{r.rps:>10.1f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}{r.max_ms:>10.2f}{r.errors:>8}{ratio:>9}"
            )
        if mine is not None:
            print(f"{OURS} ÷ bare runtime: {mine.rps / bare[case]:.2f}")
            scaled = by.get((f"{OURS} ({args.workers} workers)", case))
            if scaled is not None:
                print(f"{args.workers} workers ÷ 1 worker: {scaled.rps / mine.rps:.2f}")
    verdicts = [not disagree]
    for model, target in TARGETS.items():
        case = f"{'power' if model == 'power_lgbm' else 'mnist'}/1"
        mine, base = by.get((OURS, case)), by.get(("mlflow models serve", case))
        if mine is None or base is None:
            continue
        ratio = mine.rps / base.rps
        ok = ratio >= target and mine.p99_ms <= base.p99_ms and mine.errors == 0
        verdicts.append(ok)
        print(f"{case} vs mlflow models serve: {ratio:.1f}x (target >= {target:.0f}x), p99 {mine.p99_ms:.2f} vs "
              f"{base.p99_ms:.2f} ms -> {'PASS' if ok else 'MISS'}")  # fmt: skip
    verdicts += _peer_verdicts(by, bare, args.concurrency)
    return all(verdicts)


def _peer_verdicts(by: dict[tuple[str, str], Result], bare: dict[str, float], concurrency: int) -> list[bool]:
    """The targets against the servers users would pick instead; one line and one verdict per target."""
    verdicts = []
    for case in dict.fromkeys(model for _, model in by):
        mine = by.get((OURS, case))
        peers = [r for (server, model), r in by.items() if model == case and not server.startswith(OURS)]
        if mine is None or not peers:
            continue
        best = max(peers, key=lambda r: r.rps)
        if case.endswith("/1"):  # bound by the server's own overhead
            ok = mine.rps >= 2 * best.rps and mine.p99_ms <= best.p99_ms
            target = f"{mine.rps / best.rps:.2f}x {best.server} (>= 2x), p99 {mine.p99_ms:.1f} vs {best.p99_ms:.1f} ms"
        else:  # bound by the model itself
            ok = mine.rps >= best.rps and mine.rps >= 0.8 * bare[case]
            target = f"{mine.rps / best.rps:.2f}x {best.server} (>= 1x), {mine.rps / bare[case]:.2f} of bare (>= 0.8)"
        verdicts.append(ok)
        print(f"{case} vs the best peer: {target} -> {'PASS' if ok else 'MISS'}")
        ours = [r for (server, model), r in by.items() if model == case and server in (OURS, f"{OURS} (V2)")]
        worst = max(ours, key=lambda r: r.max_ms)
        verdicts.append(worst.max_ms < 100)
        print(f"{case} max latency at c={concurrency} (one worker, /v1 and V2): {worst.max_ms:.1f} ms "
              f"({worst.server}; target < 100) -> {'PASS' if worst.max_ms < 100 else 'MISS'}")  # fmt: skip
    return verdicts


if __name__ == "__main__":
    main()
