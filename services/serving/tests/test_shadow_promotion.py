"""`mlops promote` records the shadow summary serving reports, next to who and why."""

import json
from collections.abc import Iterator

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner
from utils.server import RunningServer, wait_until

from mlops_core.cli import app as mlops
from mlops_core.naming import CHALLENGER, CHAMPION, Tag
from mlops_core.testing import MlflowServer
from mlops_core.tracking import connect
from serving.testing.models import log_booster, register_champion, train_booster

MODEL = "tick_model"  # `mlops promote --workload tick` promotes this registered model


@pytest.fixture(scope="module")
def private_registry(tmp_path_factory: pytest.TempPathFactory, mlflow_server: MlflowServer) -> Iterator[str]:
    """A second MLflow server: the session's one serves tick_model v1 to other modules, untouched here."""
    with MlflowServer(tmp_path_factory.mktemp("mlflow-promotion")) as server:
        try:
            yield server.uri
        finally:
            connect(mlflow_server.uri)  # the fluent API back to the session's server


def test_promotion_records_the_shadow_summary_serving_reports(private_registry: str) -> None:
    client: MlflowClient = connect(private_registry)
    tick, inverted = train_booster("binary", seed=1), train_booster("binary", seed=1, inverted=True)
    register_champion(client, MODEL, log_booster(client, tick))
    challenger = mlflow.register_model(log_booster(client, inverted), MODEL).version
    client.set_registered_model_alias(MODEL, CHALLENGER, str(challenger))
    records = [dict(zip(tick.features, row.tolist(), strict=True)) for row in tick.sample[:20]]
    for record in records:
        record["hour"] = int(record["hour"])

    with RunningServer(client, models=[MODEL], shadow_models=[MODEL], shadow_sample_rate=1.0) as running:
        running.wait_ready()
        wait_until(
            lambda: (running.http.get(f"/v1/models/{MODEL}/shadow").json()["challenger"] or {}).get("version")
        )
        for start in range(0, 20, 4):
            assert running.predict(MODEL, {"records": records[start : start + 4]}).status_code == 200
        pair = wait_until(
            lambda: next(
                (
                    p
                    for p in running.http.get(f"/v1/models/{MODEL}/shadow").json()["pairs"]
                    if p["answered"] == 5
                ),
                None,
            )
        )
        promoted = CliRunner().invoke(mlops, [
            "promote", "--workload", "tick", "--version", "challenger", "--by", "dana",
            "--reason", "agrees less, on purpose", "--tracking-uri", private_registry, "--serving-url", running.url,
        ])  # fmt: skip

    assert promoted.exit_code == 0, promoted.output
    assert client.get_model_version_by_alias(MODEL, CHAMPION).version == str(challenger)
    tags = client.get_model_version(MODEL, str(challenger)).tags
    assert tags[Tag.PROMOTED_BY] == "dana"
    assert json.loads(tags["mlops.shadow.summary"]) == pair
    assert tags["mlops.shadow.mirrored"] == "5" and tags["mlops.shadow.rows"] == "20"
    assert float(tags["mlops.shadow.same_class_rate"]) == pair["agreement"]["same_class_rate"] < 0.3
    assert tags["mlops.shadow.champion_version"] == "1"
