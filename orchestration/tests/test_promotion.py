"""`promote_model`: the shadow-traffic evidence reaches the approval request and the promotion step."""

import pytest
from airflow.dag_processing.dagbag import DagBag

from mlops_core.testing import free_port
from mlops_orchestration.promotion import SHADOW_PAIR, SHADOW_TASK, SHADOW_TEXT, shadow_evidence

from .conftest import DAGS_FOLDER


@pytest.fixture(scope="module")
def dag():
    return DagBag(dag_folder=str(DAGS_FOLDER)).dags["promote_model"]


def test_the_approver_sees_shadow_traffic_and_promotion_records_it(dag) -> None:
    shadow, approve, promote = (dag.get_task(t) for t in (SHADOW_TASK, "approve", "promote"))

    assert shadow.downstream_task_ids == {"approve"} and approve.downstream_task_ids == {"promote"}
    assert shadow.op_kwargs == {"workload": "{{ params.workload }}", "version": "{{ params.version }}"}
    assert SHADOW_TEXT in approve.body
    # Local mode: templated arguments travel as environment variables, named in the command.
    assert '--shadow-summary "$MLOPS_ARG_11"' in promote.bash_command
    assert promote.env["MLOPS_ARG_11"] == SHADOW_PAIR and "shadow_traffic" in SHADOW_PAIR


def test_unreachable_serving_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLOPS_SERVING_URL", url)

    evidence = shadow_evidence("power", "challenger")

    assert evidence["pair"] is None
    assert evidence["text"].startswith(f"Shadow traffic: unavailable (serving at {url} did not answer")
