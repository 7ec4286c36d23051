"""A bounded client loop against serving while a model's champion moves: every request must succeed,
and the loop ends once answers come from the expected version (or fails after --max-seconds).

Usage: python3 deploy/serving_load.py http://SERVING:8080 --model power_lgbm --until-version 2
Stdlib only. Prints requests sent, failures, the versions that answered and latency percentiles.

Each thread keeps one connection open, as HTTP clients and load balancers do. A new connection per
request measures the host's TCP instead of serving: at about 800 connections/s from one address to one
pod, ports come back while the pod still remembers them, and a SYN now and then waits out its
retransmit (max latency 1.0 s or 3.1 s, p99 unchanged, with no swap at all).
"""

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from typing import Any


class Connection:
    """One kept-alive connection. A request on a reused connection that the server had already closed
    (it sends nothing back) is sent again on a new one, as HTTP clients do; predictions are idempotent."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.path, self.timeout = parts.hostname, parts.port or 80, parts.path, timeout
        self.http: http.client.HTTPConnection | None = None
        self.reconnects = 0

    def post(self, body: bytes) -> tuple[int, Any]:
        reused = self.http is not None
        if self.http is None:
            self.http = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.http.request("POST", self.path, body, {"Content-Type": "application/json"})
            response = self.http.getresponse()
            raw = response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.close()
            if not reused:
                raise
            self.reconnects += 1
            return self.post(body)
        except OSError:
            self.close()
            raise
        if response.will_close:
            self.close()
        return (200, json.loads(raw)) if response.status == 200 else (response.status, raw[:300])

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
            self.http = None


class Load:
    def __init__(self, url: str, body: bytes, until_version: str, deadline: float) -> None:
        self.url, self.body, self.until_version, self.deadline = url, body, until_version, deadline
        self.lock = threading.Lock()
        self.versions: Counter[str] = Counter()
        self.failures: list[str] = []
        self.latencies: list[float] = []
        self.reached = threading.Event()
        self.reconnects = 0

    def worker(self) -> None:
        connection = Connection(self.url, timeout=10)
        while not self.reached.is_set() and time.monotonic() < self.deadline:
            started = time.perf_counter()
            try:
                status, answer = connection.post(self.body)
            except OSError as error:
                status, answer = 0, str(error)
            elapsed = time.perf_counter() - started
            with self.lock:
                self.latencies.append(elapsed)
                if status != 200:
                    self.failures.append(f"HTTP {status}: {answer!r:.200}")
                    continue
                version = str(answer.get("version"))
                self.versions[version] += 1
            if version == self.until_version:
                self.reached.set()
        connection.close()
        with self.lock:
            self.reconnects += connection.reconnects


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--model", required=True)
    parser.add_argument("--until-version", required=True, help="stop once this version answers")
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    with urllib.request.urlopen(f"{base}/v1/models/{args.model}", timeout=10) as response:
        example = json.loads(response.read()).get("example_request")
    if not example:
        raise SystemExit(f"{args.model}: serving published no example request")
    load = Load(
        f"{base}/v1/models/{args.model}:predict",
        json.dumps(example).encode(),
        args.until_version,
        time.monotonic() + args.max_seconds,
    )
    started = time.monotonic()
    threads = [threading.Thread(target=load.worker, daemon=True) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = len(load.latencies)
    print(
        f"{args.model}: {total} requests in {time.monotonic() - started:.1f}s, {len(load.failures)} failed, "
        f"versions {dict(load.versions)}, p50 {percentile(load.latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(load.latencies, 0.99) * 1000:.1f} ms, max {max(load.latencies, default=0) * 1000:.1f} ms, "
        f"{args.threads} kept-alive connections ({load.reconnects} reopened after the server closed one)"
    )
    for failure in load.failures[:10]:
        print(f"  failed: {failure}")
    if load.failures:
        raise SystemExit(f"{len(load.failures)} of {total} requests failed")
    if not load.reached.is_set():
        raise SystemExit(
            f"version {args.until_version} of {args.model} never answered in {args.max_seconds:.0f}s"
        )


if __name__ == "__main__":
    sys.exit(main())
