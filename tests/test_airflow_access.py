"""Per-team DAG access through the real Airflow REST API (/api/v2, api-server with the FAB auth manager).

Roles, users and DAG permissions are created exactly as `make airflow-up` creates them; DAG-level access
comes only from each DAG's `access_control` (from the catalog's `teams`), synced by the dag-processor.
"""

from collections.abc import Iterator

import httpx
import pytest
import yaml

from .airflow_support.local_airflow import REPO, LocalAirflow, local_airflow

CNN_DAGS = {"mnist_cnn_training", "cifar10_cnn_training"}
TICK_DAGS = {"tick_features", "tick_model_training"}
POWER_DAGS = {"power_lgbm_training"}
PROMOTION_DAG = "promote_model"
CATALOG = REPO / "orchestration" / "dags" / "catalog.yaml"


@pytest.fixture(scope="module")
def catalog_dags() -> dict[str, str | None]:
    """Every DAG the catalog defines -> its team's owner (None: the promotion DAG, owned by the platform)."""
    catalog = yaml.safe_load(CATALOG.read_text())
    owners = {name: team["owner"] for name, team in catalog["teams"].items()}
    dags: dict[str, str | None] = {w["dag_id"]: owners[w["team"]] for w in catalog["workloads"]}
    dags[PROMOTION_DAG] = None
    if management := catalog.get("model_management"):
        dags[management.get("dag_id", "model_management")] = owners[management["team"]]
    return dags


@pytest.fixture(scope="module")
def airflow_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAirflow]:
    with local_airflow(tmp_path_factory.mktemp("airflow-access")) as airflow:
        yield airflow


@pytest.fixture(scope="module")
def vision(airflow_api: LocalAirflow) -> Iterator[httpx.Client]:
    with airflow_api.client("vision") as client:
        yield client


@pytest.fixture(scope="module")
def admin(airflow_api: LocalAirflow) -> Iterator[httpx.Client]:
    with airflow_api.client("admin") as client:
        yield client


def listed_dags(client: httpx.Client) -> dict[str, dict]:
    reply = client.get("/api/v2/dags", params={"limit": 100})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["total_entries"] == len(body["dags"])
    return {dag["dag_id"]: dag for dag in body["dags"]}


def trigger(client: httpx.Client, dag_id: str) -> httpx.Response:
    return client.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})


def test_vision_user_lists_exactly_the_cnn_dags(vision: httpx.Client) -> None:
    dags = listed_dags(vision)
    assert set(dags) == CNN_DAGS
    assert all(dag["owners"] == ["vision-team"] for dag in dags.values())


def test_vision_user_can_neither_read_nor_trigger_other_dags(
    vision: httpx.Client, catalog_dags: dict[str, str | None]
) -> None:
    others = set(catalog_dags) - CNN_DAGS
    assert TICK_DAGS | POWER_DAGS | {PROMOTION_DAG} <= others
    for dag_id in sorted(others):
        assert vision.get(f"/api/v2/dags/{dag_id}").status_code == 403, dag_id
        assert vision.get(f"/api/v2/dags/{dag_id}/dagRuns").status_code == 403, dag_id
        refused = trigger(vision, dag_id)
        allowed = (403, 404) if dag_id in TICK_DAGS else (403,)
        assert refused.status_code in allowed, (dag_id, refused.status_code, refused.text)


def test_vision_user_triggers_its_own_dag_and_admin_cleans_up(
    vision: httpx.Client, admin: httpx.Client
) -> None:
    created = trigger(vision, "mnist_cnn_training")
    assert created.status_code == 200, created.text
    run = created.json()
    assert run["state"] == "queued" and run["triggering_user_name"] == "vision"
    runs = vision.get("/api/v2/dags/mnist_cnn_training/dagRuns").json()["dag_runs"]
    assert run["dag_run_id"] in {r["dag_run_id"] for r in runs}
    # Deleting runs is not part of the team grant; the admin removes the run (no task ever ran).
    path = f"/api/v2/dags/mnist_cnn_training/dagRuns/{run['dag_run_id']}"
    assert vision.delete(path).status_code == 403
    assert admin.delete(path).status_code == 204


def test_admin_sees_every_dag_with_its_owner_and_owner_links(
    admin: httpx.Client, catalog_dags: dict[str, str | None]
) -> None:
    dags = listed_dags(admin)
    assert set(dags) == set(catalog_dags)
    for dag_id, dag in dags.items():
        if catalog_dags[dag_id] is not None:
            assert dag["owners"] == [catalog_dags[dag_id]], dag_id
        details = admin.get(f"/api/v2/dags/{dag_id}/details")
        assert details.status_code == 200, details.text
        assert dag["owners"] and set(details.json()["owner_links"]) == set(dag["owners"]), dag_id


@pytest.mark.parametrize(("team", "dag_ids"), [("quant", TICK_DAGS), ("energy", POWER_DAGS)])
def test_other_teams_see_only_their_own_dags(airflow_api: LocalAirflow, team: str, dag_ids: set[str]) -> None:
    with airflow_api.client(team) as client:
        assert set(listed_dags(client)) == dag_ids
        assert trigger(client, "mnist_cnn_training").status_code == 403


def test_api_refuses_anonymous_calls_and_wrong_passwords(airflow_api: LocalAirflow) -> None:
    assert httpx.get(f"{airflow_api.base_url}/api/v2/dags", timeout=30).status_code == 401
    assert airflow_api.token("vision", password="not-the-password").status_code == 401
