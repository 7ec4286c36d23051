"""Served-traffic samples: JSON lines per model and day; images summarised, not stored, by default."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from conftest import Champions
from mlflow.tracking import MlflowClient
from utils.server import RunningServer, wait_until


def _lines(root: Path, model: str) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted((root / model).rglob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_sampled_requests_are_written_per_model_and_day(
    client: MlflowClient, champions: Champions, tmp_path: Path
) -> None:
    record = dict(zip(champions.power.features, champions.power.sample[0].tolist(), strict=True))
    record["hour"] = int(record["hour"])
    image = [[200] * 28 for _ in range(28)]
    with RunningServer(
        client,
        models=["power_lgbm", "mnist_cnn"],
        request_log_dir=tmp_path,
        request_log_sample_rate=1.0,
    ) as running:
        running.wait_ready()
        for _ in range(3):
            assert running.predict("power_lgbm", {"records": [record, record]}).status_code == 200
        assert running.predict("mnist_cnn", {"images": [image]}).status_code == 200
        assert running.predict("power_lgbm", {"records": []}).status_code == 422  # refused: not sampled
        wait_until(
            lambda: len(_lines(tmp_path, "power_lgbm")) == 3 and len(_lines(tmp_path, "mnist_cnn")) == 1
        )

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    files = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl")]
    assert all(re.fullmatch(rf"(power_lgbm|mnist_cnn)/date={today}/part-[^/]+\.jsonl", f) for f in files), (
        files
    )

    power = _lines(tmp_path, "power_lgbm")[0]
    assert (power["model"], power["version"], power["rows"]) == ("power_lgbm", "1", 2)
    assert power["features"] == [record, record]
    assert len(power["predictions"]) == 2 and isinstance(power["predictions"][0], float)
    assert {"ts", "request_id", "run_id", "latency_ms"} <= set(power)

    mnist = _lines(tmp_path, "mnist_cnn")[0]
    assert "images" not in mnist and "features" not in mnist
    assert mnist["image_stats"] == [{"mean": 200.0, "std": 0.0, "min": 200.0, "max": 200.0}]
    assert set(mnist["predictions"][0]) == {"class", "probabilities"}


def test_raw_images_only_when_enabled(client: MlflowClient, champions: Champions, tmp_path: Path) -> None:
    image = [[(r * 28 + c) % 256 for c in range(28)] for r in range(28)]
    with RunningServer(
        client,
        models=["mnist_cnn"],
        request_log_dir=tmp_path,
        request_log_sample_rate=1.0,
        request_log_images=True,
    ) as running:
        running.wait_ready()
        assert running.predict("mnist_cnn", {"images": [image]}).status_code == 200
        wait_until(lambda: len(_lines(tmp_path, "mnist_cnn")) == 1)
    logged = _lines(tmp_path, "mnist_cnn")[0]["images"][0]
    assert [[pixel[0] for pixel in row] for row in logged] == image
