"""Run the real app over real HTTP (uvicorn in a thread) against the real MLflow test server."""

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from mlflow.tracking import MlflowClient

from mlops_core.testing import free_port
from serving.app import create_app
from serving.settings import ServingSettings


def wait_until(condition: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1) -> Any:
    """Poll `condition` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s: {condition}")


class RunningServer:
    def __init__(self, client: MlflowClient, **settings: Any) -> None:
        self.port = free_port()
        self.settings = ServingSettings(host="127.0.0.1", port=self.port, **settings)
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(self.settings, client)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"serving-{self.port}", daemon=True)
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def __enter__(self) -> "RunningServer":
        self._thread.start()
        wait_until(lambda: self._server.started, timeout=60)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.http.close()
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def wait_ready(self, timeout: float = 120.0) -> None:
        wait_until(lambda: self.http.get("/readyz").status_code == 200, timeout=timeout, interval=0.2)

    def served_version(self, name: str) -> str | None:
        return self.http.get(f"/v1/models/{name}").json().get("version")

    def predict(self, name: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(f"/v1/models/{name}:predict", json=body)

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a Prometheus sample's values over series matching `labels`."""
        from prometheus_client.parser import text_string_to_metric_families

        total = 0.0
        for family in text_string_to_metric_families(self.http.get("/metrics").text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total
