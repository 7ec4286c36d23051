"""Following the champion alias: readiness, hot swaps under traffic, broken versions, webhooks."""

import threading
import time

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from utils.server import RunningServer, wait_until

from mlops_core.registry import promote
from serving.testing.models import (
    log_booster,
    log_cnn,
    log_unloadable_cnn,
    register_champion,
    train_booster,
)


def _gray(size: int = 28) -> dict[str, object]:
    return {"images": [[[128] * size for _ in range(size)]]}


def test_not_ready_until_a_champion_is_loaded(client: MlflowClient) -> None:
    name = "mnist_late"
    with RunningServer(client, models=[name], poll_interval_s=0.3) as running:
        assert running.http.get("/healthz").status_code == 200
        readiness = running.http.get("/readyz")
        assert readiness.status_code == 503
        assert readiness.json()["models"] == {name: "loading"}
        refused = running.predict(name, _gray())
        assert refused.status_code == 503
        assert "no version loaded" in refused.json()["detail"]

        register_champion(client, name, log_cnn(client, 1, 28, seed=4))
        running.wait_ready(timeout=60)

        answered = running.predict(name, _gray())
        assert answered.status_code == 200, answered.text
        assert answered.json()["version"] == "1"


class _Traffic:
    """Clients sending requests back to back, recording every outcome in order."""

    def __init__(self, running: RunningServer, name: str, body: dict[str, object], clients: int = 3) -> None:
        self.outcomes: list[list[tuple[int, str | None, list[object]]]] = [[] for _ in range(clients)]
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._send, args=(running, name, body, out), daemon=True)
            for out in self.outcomes
        ]

    def _send(self, running: RunningServer, name: str, body: dict[str, object], out: list) -> None:
        import httpx

        with httpx.Client(base_url=running.url, timeout=30) as http:
            while not self._stop.is_set():
                try:
                    response = http.post(f"/v1/models/{name}:predict", json=body)
                    data = response.json()
                    out.append((response.status_code, data.get("version"), data.get("predictions")))
                except Exception as exc:  # a refused connection is a failed request too
                    out.append((0, None, [repr(exc)]))

    def __enter__(self) -> "_Traffic":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def latest_versions(self) -> set[str | None]:
        return {out[-1][1] for out in self.outcomes if out}


def test_promotion_under_continuous_traffic_swaps_without_failures(client: MlflowClient) -> None:
    name = "power_swap"
    old, new = train_booster("regression", seed=10), train_booster("regression", seed=11, trees=30)
    register_champion(client, name, log_booster(client, old))
    row = old.sample[:1]
    record = dict(zip(old.features, row[0].tolist(), strict=True))
    record["hour"] = int(record["hour"])
    new_uri = log_booster(client, new)

    with RunningServer(client, models=[name], poll_interval_s=0.2) as running:
        running.wait_ready()
        with _Traffic(running, name, {"records": [record]}) as traffic:
            wait_until(lambda: all(len(out) > 20 for out in traffic.outcomes), timeout=60)
            register_champion(client, name, new_uri)
            wait_until(lambda: traffic.latest_versions() == {"2"}, timeout=60)
            sent_after_swap = [len(out) for out in traffic.outcomes]
            progressed = zip(traffic.outcomes, sent_after_swap, strict=True)
            wait_until(lambda: all(len(o) > n + 20 for o, n in progressed), 60)
        loads = running.metric("serving_model_loads_total", model=name, outcome="loaded")

    expected = {"1": old.booster.predict(row)[0], "2": new.booster.predict(row)[0]}
    assert expected["1"] != expected["2"]
    for outcomes in traffic.outcomes:
        assert [status for status, _, _ in outcomes] == [200] * len(outcomes)
        versions = [version for _, version, _ in outcomes]
        switch = versions.index("2")
        assert set(versions[:switch]) == {"1"} and set(versions[switch:]) == {"2"}, "versions must not flap"
        for _, version, predictions in outcomes:
            assert predictions == [expected[version]]
    assert loads == 2


def test_a_broken_version_does_not_replace_the_working_one(client: MlflowClient) -> None:
    name = "mnist_broken"
    register_champion(client, name, log_cnn(client, 1, 28, seed=5))
    broken_uri = log_unloadable_cnn(client, 1, 28)
    fixed_uri = log_cnn(client, 1, 28, seed=6)

    with RunningServer(client, models=[name], poll_interval_s=0.2) as running:
        running.wait_ready()
        before = running.predict(name, _gray()).json()

        register_champion(client, name, broken_uri)
        described = wait_until(
            lambda: (d := running.http.get(f"/v1/models/{name}").json())["last_error"] and d, timeout=60
        )
        assert described["version"] == "1"
        assert described["champion_version"] == "2"
        assert described["last_error"]["version"] == "2"
        assert "cannot load ONNX model" in described["last_error"]["error"]
        during = running.predict(name, _gray())
        assert during.status_code == 200
        assert during.json()["version"] == "1"
        assert during.json()["predictions"] == before["predictions"]
        assert running.http.get("/readyz").status_code == 200
        assert running.metric("serving_model_loads_total", model=name, version="2", outcome="failed") == 1

        register_champion(client, name, fixed_uri)
        wait_until(lambda: running.served_version(name) == "3", timeout=60)
        after = running.http.get(f"/v1/models/{name}").json()
        assert after["last_error"] is None
        assert running.predict(name, _gray()).json()["version"] == "3"


def test_alias_moving_back_rolls_back(client: MlflowClient) -> None:
    name = "tick_rollback"
    first, second = train_booster("binary", seed=20), train_booster("binary", seed=21)
    register_champion(client, name, log_booster(client, first))
    register_champion(client, name, log_booster(client, second))
    with RunningServer(client, models=[name], poll_interval_s=0.2) as running:
        running.wait_ready()
        assert running.served_version(name) == "2"
        promote(client, name, "1", actor="serving-tests", reason="rollback")
        wait_until(lambda: running.served_version(name) == "1", timeout=60)


def test_mlflow_webhook_triggers_an_immediate_swap(client: MlflowClient) -> None:
    name = "power_hook"
    secret = "test-webhook-secret"
    register_champion(client, name, log_booster(client, train_booster("regression", seed=30)))
    next_uri = log_booster(client, train_booster("regression", seed=31))

    # Polling effectively off: only the webhook can make the swap happen within the test.
    with RunningServer(client, models=[name], poll_interval_s=3600, webhook_secret=secret) as running:
        running.wait_ready()
        unsigned = running.http.post("/v1/webhooks/mlflow", json={"entity": "x", "action": "y", "data": {}})
        assert unsigned.status_code == 401
        webhook = client.create_webhook(
            name=f"serving-{running.port}",
            url=f"{running.url}/v1/webhooks/mlflow",
            events=["model_version_alias.created"],
            secret=secret,
        )
        try:
            assert client.test_webhook(webhook.webhook_id).success
            time.sleep(1.5)  # the tracking server caches webhook subscriptions for 1s in tests
            started = time.monotonic()
            version = mlflow.register_model(next_uri, name).version
            promote(client, name, str(version), actor="serving-tests", reason="webhook test")
            wait_until(lambda: running.served_version(name) == "2", timeout=30)
            assert time.monotonic() - started < 30
        finally:
            client.delete_webhook(webhook.webhook_id)


def test_registry_outage_keeps_serving(client: MlflowClient, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "power_lgbm_outage"
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    model = train_booster("regression", seed=40)
    register_champion(client, name, log_booster(client, model))
    unreachable = MlflowClient(tracking_uri="http://127.0.0.1:9", registry_uri="http://127.0.0.1:9")
    with RunningServer(client, models=[name], poll_interval_s=0.2) as running:
        running.wait_ready()
        running.app.state.serving.client = unreachable  # the registry goes away mid-flight
        wait_until(lambda: running.metric("serving_registry_errors_total", model=name) > 0, timeout=60)
        record = dict(zip(model.features, model.sample[0].tolist(), strict=True))
        record["hour"] = int(record["hour"])
        response = running.predict(name, {"records": [record]})
        assert response.status_code == 200
        np.testing.assert_allclose(response.json()["predictions"], model.booster.predict(model.sample[:1]))


def test_long_lived_objects_are_frozen_out_of_full_collections(server: RunningServer) -> None:
    """A full GC pass over MLflow's, FastAPI's and the runtimes' objects stalled requests for 100+ ms."""
    import gc

    assert server.http.get("/readyz").status_code == 200
    assert gc.get_freeze_count() > 50_000
