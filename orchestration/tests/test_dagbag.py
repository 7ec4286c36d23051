"""The real DagBag over the real DAG folder, in the default (local) launch mode."""

import itertools

import pytest
from airflow.dag_processing.dagbag import DagBag

from .conftest import DAGS_FOLDER

PLATFORM_TASKS = {"notify", "approve"}  # orchestration-only tasks without a workload image


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_no_import_errors_and_every_dag_present(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {
        "power_lgbm_training", "mnist_cnn_training", "cifar10_cnn_training", "tick_features",
        "tick_model_training", "promote_model", "model_management",
    }  # fmt: skip


def test_every_dag_has_owner_tags_retries_timeout_and_pool(dagbag: DagBag, catalog) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.owner_links, dag_id
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", (dag_id, task.task_id)
            assert task.pool, (dag_id, task.task_id)
            if dag_id in ("promote_model", "model_management"):
                continue
            workload = catalog.workload(dag_id)
            assert task.execution_timeout is not None, (dag_id, task.task_id)
            if task.task_id != "notify":
                assert task.retries == workload.retries, (dag_id, task.task_id)
                assert task.queue == workload.queue and task.priority_weight == workload.priority_weight


def test_training_dags_have_the_release_shape(dagbag: DagBag) -> None:
    for dag_id in (
        "power_lgbm_training",
        "mnist_cnn_training",
        "cifar10_cnn_training",
        "tick_model_training",
    ):
        dag = dagbag.dags[dag_id]
        order = ["validate_data", "train", "gate", "register", "notify"]
        for upstream, downstream in itertools.pairwise(order):
            assert downstream in dag.get_task(upstream).downstream_task_ids, (dag_id, upstream)
        assert list(dag.get_task("gate").skip_on_exit_code) == [10, 11, 12]
        assert dag.get_task("notify").trigger_rule == "all_done"
        assert "--no-release" in dag.get_task("train").bash_command


def test_team_roles_and_gpu_pools(dagbag: DagBag) -> None:
    roles = {dag_id: set(dag.access_control or {}) for dag_id, dag in dagbag.dags.items()}
    assert roles["mnist_cnn_training"] == roles["cifar10_cnn_training"] == {"vision"}
    assert roles["tick_features"] == roles["tick_model_training"] == {"quant"}
    assert roles["power_lgbm_training"] == {"energy"}
    assert dagbag.dags["mnist_cnn_training"].get_task("train").pool == "gpu_pool"
    assert dagbag.dags["mnist_cnn_training"].get_task("validate_data").pool == "default_pool"


def test_tick_training_is_scheduled_on_the_features_asset(dagbag: DagBag) -> None:
    produced = {outlet.uri for outlet in dagbag.dags["tick_features"].get_task("build_features").outlets}
    assert produced == {"mlops://ticks/features"}
    schedule = dagbag.dags["tick_model_training"].timetable
    assert "mlops://ticks/features" in str(schedule.asset_condition)
    assert dagbag.dags["tick_features"].catchup is True


def test_model_management_requests_retrains_through_assets(dagbag: DagBag) -> None:
    dag = dagbag.dags["model_management"]
    for workload, training_dag in (("power", "power_lgbm_training"), ("mnist", "mnist_cnn_training"),
                                   ("cifar10", "cifar10_cnn_training"), ("tick", "tick_model_training")):  # fmt: skip
        report = dag.get_task(f"report_{workload}")
        assert list(report.skip_on_exit_code) == [20]
        assert "--cooldown" in report.bash_command and "--daily-budget" in report.bash_command
        request = dag.get_task(f"request_retrain_{workload}")
        assert request.upstream_task_ids == {report.task_id}
        assert [o.uri for o in request.outlets] == [f"mlops://retrain/{workload}"]
        assert f"mlops://retrain/{workload}" in str(dagbag.dags[training_dag].timetable.asset_condition)
        assert dag.get_task(f"hygiene_{workload}").upstream_task_ids == set()
    # Time-based schedules survive next to the retrain trigger.
    assert dagbag.dags["power_lgbm_training"].timetable.timetable is not None
