"""A bounded client loop against serving: one model's example request from a few threads, each on one
kept-alive connection (as HTTP clients and load balancers do), no retries. It records every request's
latency and the model version that answered; with `until_version` it ends once that version answers.

A new connection per request would measure the host's TCP instead of serving: at about 800
connections/s from one address to one pod, ports come back while the pod still remembers them, and a
SYN now and then waits out its retransmit (max latency 1.0 s or 3.1 s with nothing else going on).
"""

import threading
import time
from collections import Counter

import httpx

MAX_SECONDS = 600.0


class Load:
    def __init__(
        self,
        base_url: str,
        model: str,
        threads: int = 4,
        until_version: str | None = None,
        max_seconds: float = MAX_SECONDS,
    ) -> None:
        self.url = f"{base_url}/v1/models/{model}:predict"
        self.body = httpx.get(f"{base_url}/v1/models/{model}", timeout=10).json().get("example_request")
        if not self.body:
            raise RuntimeError(
                f"{model}: serving published no example request at {base_url}/v1/models/{model}"
            )
        self.until_version, self.max_seconds = until_version, max_seconds
        self.stop = threading.Event()
        self.reached = threading.Event()  # `until_version` answered
        self.lock = threading.Lock()
        self.ok = 0
        self.failures: list[str] = []
        self.latencies: list[float] = []
        self.versions: Counter[str] = Counter()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        with httpx.Client(timeout=10) as http:
            while not (self.stop.is_set() or self.reached.is_set()) and time.monotonic() < deadline:
                started = time.perf_counter()
                version = None
                try:
                    reply = http.post(self.url, json=self.body)
                    if reply.status_code == 200:
                        failure, version = None, str(reply.json().get("version"))
                    else:
                        failure = f"HTTP {reply.status_code}: {reply.text[:200]}"
                except httpx.HTTPError as error:
                    failure = f"{type(error).__name__}: {error}"
                elapsed = time.perf_counter() - started
                with self.lock:
                    self.latencies.append(elapsed)
                    if failure:
                        self.failures.append(failure)
                    else:
                        self.ok += 1
                        self.versions[version] += 1
                if version is not None and version == self.until_version:
                    self.reached.set()

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
