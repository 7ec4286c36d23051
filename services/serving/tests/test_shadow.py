"""Shadowing the challenger: live requests mirrored off the request path, compared, summarised."""

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from utils.faults import FailingPredictor, SlowPredictor, replace_challenger_predictor
from utils.server import RunningServer, wait_until

from mlops_core.naming import CHALLENGER
from serving.shadow import Shadow
from serving.testing.models import TabularModel, log_booster, register_champion, train_booster

TICK = train_booster("binary", seed=1)
TICK_INVERTED = train_booster("binary", seed=1, inverted=True)
POWER = train_booster("regression", seed=0)
POWER_SMALLER = train_booster("regression", seed=0, trees=5)
# model name -> (champion, challenger)
PAIRS = {
    "tick_shadowed": (TICK, TICK_INVERTED),
    "tick_twin": (TICK, TICK),
    "power_shadowed": (POWER, POWER_SMALLER),
    "power_slow_challenger": (POWER, POWER),
    "power_failing_challenger": (POWER, POWER),
}


def _register(client: MlflowClient, name: str, champion: TabularModel, challenger: TabularModel) -> None:
    register_champion(client, name, log_booster(client, champion))
    version = mlflow.register_model(log_booster(client, challenger), name).version
    client.set_registered_model_alias(name, CHALLENGER, str(version))


@pytest.fixture(scope="module")
def shadowed(client: MlflowClient) -> Iterator[RunningServer]:
    for name, (champion, challenger) in PAIRS.items():
        _register(client, name, champion, challenger)
    with RunningServer(
        client,
        models=list(PAIRS),
        shadow_models=list(PAIRS),
        shadow_sample_rate=1.0,
        shadow_queue_limit=64,
        poll_interval_s=30,
    ) as running:
        running.wait_ready()
        for name in PAIRS:
            wait_until(lambda name=name: _shadow(running, name).challenger is not None, timeout=60)
        yield running


def _shadow(running: RunningServer, name: str) -> Shadow:
    shadow = running.app.state.serving.slots[name].shadow
    assert shadow is not None
    return shadow


def _records(model: TabularModel, rows: np.ndarray) -> list[dict[str, float | int]]:
    records = [dict(zip(model.features, row.tolist(), strict=True)) for row in rows]
    for record in records:
        record["hour"] = int(record["hour"])
    return records


def _pair(running: RunningServer, name: str) -> dict:
    summary = running.http.get(f"/v1/models/{name}/shadow").json()
    assert summary["enabled"] is True and summary["champion_version"] == "1"
    assert summary["challenger"]["version"] == "2"
    return summary["pairs"][0]


def _pair_when(running: RunningServer, name: str, condition: Callable[[dict], bool]) -> dict:
    def met() -> dict | None:
        pair = _pair(running, name)
        return pair if condition(pair) else None

    return wait_until(met, timeout=30)


def _v2_columns(model: TabularModel, rows: np.ndarray) -> dict:
    inputs = []
    for i, name in enumerate(model.features):
        values = rows[:, i].astype(int).tolist() if name == "hour" else rows[:, i].tolist()
        inputs.append({"name": name, "shape": [len(rows)], "datatype": "INT64" if name == "hour" else "FP64",
                       "data": values})  # fmt: skip
    return {"inputs": inputs}


def test_a_challenger_that_disagrees_on_purpose_shows_low_agreement(shadowed: RunningServer) -> None:
    rows = TICK.sample[:40]
    for name in ("tick_shadowed", "tick_twin"):
        for start in range(0, 32, 4):  # 8 requests over /v1, 2 over /v2, 4 rows each
            response = shadowed.predict(name, {"records": _records(TICK, rows[start : start + 4])})
            assert response.status_code == 200
            answered = [p["probability"] for p in response.json()["predictions"]]
            np.testing.assert_allclose(answered, TICK.booster.predict(rows[start : start + 4]), rtol=1e-12)
        for start in (32, 36):
            body = _v2_columns(TICK, rows[start : start + 4])
            assert shadowed.http.post(f"/v2/models/{name}/infer", json=body).status_code == 200
        wait_until(lambda name=name: _pair(shadowed, name)["answered"] == 10, timeout=30)

    inverted, twin = _pair(shadowed, "tick_shadowed"), _pair(shadowed, "tick_twin")

    champion_class = TICK.booster.predict(rows) >= 0.5
    expected = float(np.mean(champion_class == (TICK_INVERTED.booster.predict(rows) >= 0.5)))
    assert inverted["rows"] == 40 and inverted["errors"] == 0 and inverted["dropped"] == 0
    assert inverted["agreement"]["same_class_rate"] == pytest.approx(expected) and expected < 0.3
    assert twin["agreement"]["same_class_rate"] == 1.0 and twin["agreement"]["abs_diff"]["max"] == 0.0
    assert inverted["challenger_latency_ms"]["p50"] > 0
    labels = {"model": "tick_shadowed", "champion_version": "1", "challenger_version": "2"}
    assert shadowed.metric("serving_shadow_rows_total", **labels, agreement="different") == round(
        40 * (1 - expected)
    )
    assert shadowed.metric("serving_shadow_requests_total", **labels, outcome="answered") == 10


def test_regression_disagreement_is_the_distribution_of_abs_differences(shadowed: RunningServer) -> None:
    rows = POWER.sample[:30]
    for start in range(0, 30, 10):
        assert (
            shadowed.predict(
                "power_shadowed", {"records": _records(POWER, rows[start : start + 10])}
            ).status_code
            == 200
        )
    wait_until(lambda: _pair(shadowed, "power_shadowed")["answered"] == 3, timeout=30)

    diff = _pair(shadowed, "power_shadowed")["agreement"]

    expected = np.abs(POWER.booster.predict(rows) - POWER_SMALLER.booster.predict(rows))
    assert diff["task"] == "regression" and "same_class_rate" not in diff
    assert diff["abs_diff"]["mean"] == pytest.approx(expected.mean(), abs=1e-8)
    assert diff["abs_diff"]["max"] == pytest.approx(expected.max(), abs=1e-8)
    assert diff["abs_diff"]["p50"] == pytest.approx(np.percentile(expected, 50), abs=1e-8)
    assert shadowed.metric("serving_shadow_abs_diff_count", model="power_shadowed") == 30


def _latencies(
    running: RunningServer, name: str, body: dict, seconds: float, clients: int = 4
) -> list[float]:
    """Back-to-back requests from `clients` connections for `seconds`: every latency, all answered 200."""
    latencies: list[float] = []
    statuses: list[int] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=running.url, timeout=30) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                statuses.append(http.post(f"/v1/models/{name}:predict", json=body).status_code)
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) == {200}
    return latencies


def test_a_challenger_sleeping_2s_per_call_leaves_champion_p99_unchanged(shadowed: RunningServer) -> None:
    name = "power_slow_challenger"
    body = {"records": _records(POWER, POWER.sample[:1])}
    _latencies(shadowed, name, body, seconds=0.5)  # warm connections and caches
    baseline = _latencies(shadowed, name, body, seconds=2.0)
    shadow = _shadow(shadowed, name)
    wait_until(lambda: shadow._queue.empty(), timeout=10)
    replace_challenger_predictor(shadow, SlowPredictor(shadow.challenger.predictor, seconds=2.0))  # type: ignore[union-attr]

    slow = _latencies(shadowed, name, body, seconds=2.0)

    p99_baseline, p99_slow = np.percentile(baseline, 99), np.percentile(slow, 99)
    assert p99_slow <= max(3 * p99_baseline, p99_baseline + 0.05), (p99_baseline, p99_slow)
    assert max(slow) < 1.0  # no request ever waited for the 2 s challenger
    assert len(slow) > 50
    pair = _pair_when(shadowed, name, lambda p: p["challenger_latency_ms"]["max"] >= 2000)
    assert pair["dropped"] > 0  # the queue (64) filled while the challenger slept; the rest were dropped


def test_a_challenger_that_raises_is_counted_and_never_surfaces(shadowed: RunningServer) -> None:
    name = "power_failing_challenger"
    shadow = _shadow(shadowed, name)
    replace_challenger_predictor(shadow, FailingPredictor(shadow.challenger.predictor))  # type: ignore[union-attr]
    rows = POWER.sample[:20]

    responses = [shadowed.predict(name, {"records": _records(POWER, rows[i : i + 1])}) for i in range(20)]

    assert [r.status_code for r in responses] == [200] * 20
    np.testing.assert_allclose(
        [r.json()["predictions"][0] for r in responses], POWER.booster.predict(rows), rtol=1e-12
    )
    pair = _pair_when(shadowed, name, lambda p: p["errors"] + p["dropped"] == 20)
    assert pair["errors"] >= 10 and pair["answered"] == 0
    assert "RuntimeError: challenger runtime failure" in pair["last_error"]
    labels = {"model": name, "challenger_version": "2"}
    assert shadowed.metric("serving_shadow_requests_total", **labels, outcome="error") == pair["errors"]
    assert shadowed.http.get("/readyz").status_code == 200


def test_shadowing_is_off_unless_configured(server: RunningServer) -> None:
    summary = server.http.get("/v1/models/power_lgbm/shadow").json()

    assert summary == {"model": "power_lgbm", "enabled": False, "champion_version": "1"}
    assert server.http.get("/v1/models/nope/shadow").status_code == 404
