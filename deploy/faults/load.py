"""A bounded client loop against serving: one model's example request from a few threads, no retries."""

import threading
import time

import httpx

MAX_SECONDS = 600.0


class Load:
    def __init__(self, base_url: str, model: str, threads: int = 4) -> None:
        self.url = f"{base_url}/v1/models/{model}:predict"
        self.body = httpx.get(f"{base_url}/v1/models/{model}", timeout=10).json()["example_request"]
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        with httpx.Client(timeout=10) as http:
            while not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    reply = http.post(self.url, json=self.body)
                    failure = (
                        None if reply.status_code == 200 else f"HTTP {reply.status_code}: {reply.text[:200]}"
                    )
                except httpx.HTTPError as error:
                    failure = f"{type(error).__name__}: {error}"
                with self.lock:
                    if failure:
                        self.failures.append(failure)
                    else:
                        self.ok += 1

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
