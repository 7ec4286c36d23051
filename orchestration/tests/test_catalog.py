from pathlib import Path

import pytest
import yaml

from mlops_orchestration.catalog import CatalogError, load_catalog
from mlops_orchestration.cli import main as cli_main

from .conftest import CATALOG


def broken(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(CATALOG.read_text())
    mutate(raw)
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_shipped_catalog_is_valid(catalog) -> None:
    assert {w.dag_id for w in catalog.workloads} == {
        "power_lgbm_training", "mnist_cnn_training", "cifar10_cnn_training", "tick_features", "tick_model_training",
    }  # fmt: skip
    assert set(catalog.pools) == {"gpu_pool", "high_priority_cpu", "default_pool"}


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda c: c["workloads"][0].update(team="nobody"),
            "workload power_lgbm_training: unknown team 'nobody'",
        ),
        (
            lambda c: c["workloads"][1]["resources"].update(cpu="lots"),
            "workloads[1] (mnist_cnn_training).resources.cpu",
        ),
        (lambda c: c["workloads"][0].update(retry_delay="5 minutes"), "must look like 90s, 5m, 2h or 1d"),
        (
            lambda c: c["workloads"][0].update(colour="blue"),
            "workloads[0] (power_lgbm_training).colour: Extra inputs",
        ),
        (lambda c: c["workloads"][0]["steps"].pop("train"), "training workload needs steps ['train']"),
        (
            lambda c: c["workloads"][1].update(node_pool="cpu"),
            "requests a GPU but node_pool 'cpu' does not tolerate",
        ),
        (
            lambda c: c["workloads"][4].update(schedule_on_asset="mlops://nowhere"),
            "is produced by no workload",
        ),
        (
            lambda c: c["workloads"][0]["steps"]["train"]["command"].append("${typo}"),
            "unknown placeholder ${typo}",
        ),
        (lambda c: c["workloads"].append(dict(c["workloads"][0])), "duplicate dag_id"),
        (
            lambda c: c["workloads"][0].update(spark={"executors": 2}),
            "spark executors apply to the build step of a features workload on 'tick-features'",
        ),
        (
            lambda c: c["workloads"][3].update(spark={"executors": 0}),
            "workloads[3] (tick_features).spark.executors: Input should be greater than or equal to 1",
        ),
        (
            lambda c: c["workloads"][3].update(spark={"executors": 2, "executor_memory": "1 GB"}),
            "executor_memory '1 GB' must be a JVM size like 512m or 2g",
        ),
        (
            lambda c: c["workloads"][3].update(spark={"executors": 2, "executor_memory": "256m"}),
            "executor_memory '256m' is below Spark's minimum",
        ),
        (
            lambda c: c["workloads"][3].update(spark={"executors": 2, "cores": 1}),
            "workloads[3] (tick_features).spark.cores: Extra inputs",
        ),
    ],
)
def test_invalid_catalogs_name_the_problem_and_its_place(tmp_path: Path, mutate, expected: str) -> None:
    with pytest.raises(CatalogError) as raised:
        load_catalog(broken(tmp_path, mutate))
    assert expected in str(raised.value)
    assert str(tmp_path / "catalog.yaml") in str(raised.value)


def test_spark_executors_are_off_by_default_and_validated_when_on(catalog) -> None:
    tick = catalog.workload("tick_features")
    assert tick.spark is None  # local[*] in the task's own pod unless the catalog asks
    on = type(tick).model_validate(
        {**tick.model_dump(), "spark": {"executors": 2, "executor_cores": 1, "executor_memory": "1g"}}
    )
    assert (on.spark.executors, on.spark.executor_cores, on.spark.executor_memory) == (2, 1, "1g")


def test_unreadable_yaml(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text("workloads: [unclosed")
    with pytest.raises(CatalogError, match="cannot read catalog"):
        load_catalog(path)


def test_pools_command_emits_every_catalog_pool(capsys: pytest.CaptureFixture[str], catalog) -> None:
    assert cli_main(["pools", "--catalog", str(CATALOG)]) == 0
    pools = yaml.safe_load(capsys.readouterr().out)
    assert pools["gpu_pool"]["slots"] == catalog.pools["gpu_pool"].slots
    assert set(pools) == set(catalog.pools)
