"""Registry hygiene: the plan (pure, with a fixed clock) and `mlops hygiene` against a real MLflow server."""

import itertools
import json
from datetime import UTC, datetime, timedelta

import mlflow
import pytest
from mlflow.entities.model_registry import ModelVersion, ModelVersionTag
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner, Result

from mlops_core.cli import app
from mlops_core.errors import RegistryError
from mlops_core.hygiene import ARCHIVED_TAG, HygieneAction, plan_hygiene, run_hygiene
from mlops_core.logs import configure_logging
from mlops_core.naming import CHALLENGER, CHAMPION, Workload, tracking_names
from mlops_core.registry import promote
from mlops_core.tracking import connect

NOW = datetime(2026, 3, 31, tzinfo=UTC)
_names = itertools.count()


def _version(number: int, days_old: float, aliases: list[str] | None = None, **tags: str) -> ModelVersion:
    created = int((NOW - timedelta(days=days_old)).timestamp() * 1000)
    return ModelVersion(
        "m",
        str(number),
        created,
        aliases=aliases or [],
        tags=[ModelVersionTag(k, v) for k, v in tags.items()],
    )


def test_plan_archives_only_old_unaliased_versions_beyond_the_newest() -> None:
    versions = [
        _version(1, 90, [CHAMPION]),
        _version(2, 80),
        _version(3, 70, [CHALLENGER]),
        _version(4, 60, **{ARCHIVED_TAG: "true"}),
        _version(5, 45),
        _version(6, 20),  # young
        _version(7, 40),
        _version(8, 35),
        _version(9, 31),
    ]
    plan = {p.version: p for p in plan_hygiene(versions, NOW, max_age_days=30, keep_last=3)}
    assert [v for v, p in plan.items() if p.action is HygieneAction.ARCHIVE] == ["5", "2"]
    assert plan["1"].reason == "alias champion" and plan["3"].reason == "alias challenger"
    assert plan["4"].reason.startswith("already archived")
    assert {"7", "8", "9"} == {v for v, p in plan.items() if p.reason == "among the newest 3"}
    assert plan["6"].reason == "20.0 days old (limit 30)"
    assert plan["2"].reason == "80.0 days old (limit 30), no alias, not among the newest 3"


def test_plan_refuses_negative_settings() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        plan_hygiene([], NOW, max_age_days=-1, keep_last=3)


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input: list[float]) -> list[float]:  # type: ignore[no-untyped-def]
        return model_input


@pytest.fixture
def registry(tracking_uri: str) -> tuple[MlflowClient, str]:
    """Six versions of one model: v2 champion, v5 challenger."""
    client = connect(tracking_uri)
    name = f"hygiene_model_{next(_names)}"
    experiment = client.create_experiment(f"hygiene-{name}")
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=[])
    client.create_registered_model(name)
    for _ in range(6):
        client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(name, CHAMPION, "2")
    client.set_registered_model_alias(name, CHALLENGER, "5")
    return client, name


def _tags(client: MlflowClient, name: str) -> dict[str, dict[str, str]]:
    return {v: client.get_model_version(name, v).tags for v in map(str, range(1, 7))}


def test_dry_run_lists_the_plan_and_changes_nothing(registry: tuple[MlflowClient, str]) -> None:
    client, name = registry
    before = _tags(client, name)
    result = run_hygiene(client, name, max_age_days=0, keep_last=2, dry_run=True)
    assert result is not None and result.archived == []
    assert [p.version for p in result.plan if p.action is HygieneAction.ARCHIVE] == ["4", "3", "1"]
    assert "would archive" in result.lines()[2] and result.lines()[-1].endswith("(dry run: nothing changed)")
    assert _tags(client, name) == before
    assert "mlops.hygiene.last_run" not in client.get_registered_model(name).tags


def test_archives_old_versions_and_never_touches_champion_challenger_or_the_newest(
    registry: tuple[MlflowClient, str],
) -> None:
    client, name = registry
    assert run_hygiene(client, name, max_age_days=30, keep_last=2, dry_run=False).archived == []  # all young
    result = run_hygiene(client, name, max_age_days=0, keep_last=2, dry_run=False)
    assert sorted(result.archived) == ["1", "3", "4"]
    tags = _tags(client, name)
    for version in ("1", "3", "4"):
        assert tags[version][ARCHIVED_TAG] == "true"
        state = json.loads(tags[version]["mlops.archived_state"])
        assert state["aliases"] == [] and state["keep_last"] == 2 and state["max_age_days"] == 0
    for version in ("2", "5", "6"):  # champion, challenger, newest
        assert ARCHIVED_TAG not in tags[version]
    assert client.get_model_version_by_alias(name, CHAMPION).version == "2"
    assert client.get_model_version_by_alias(name, CHALLENGER).version == "5"
    assert len(client.search_model_versions(f"name = '{name}'")) == 6  # archived, never deleted
    with pytest.raises(RegistryError, match="archived"):
        promote(client, name, "3", actor="ops", reason="bring back")
    again = run_hygiene(client, name, max_age_days=0, keep_last=2, dry_run=False)
    assert again.archived == [] and "already archived" in again.lines()[-2]


def _invoke(args: list[str]) -> Result:
    result = CliRunner().invoke(app, args)
    configure_logging()  # the command bound logging to the runner's (now closed) stream
    return result


def test_cli_reports_each_version_and_honours_dry_run(tracking_uri: str) -> None:
    client = connect(tracking_uri)
    model = tracking_names(Workload.CIFAR10).registered_model
    absent = _invoke(["hygiene", "--workload", "cifar10", "--dry-run"])
    assert absent.exit_code == 0 and f"{model}: not registered yet" in absent.output
    experiment = client.create_experiment("hygiene-cli")
    run = client.create_run(experiment)
    client.create_registered_model(model)
    try:
        for _ in range(3):
            client.create_model_version(model, f"runs:/{run.info.run_id}/model", run.info.run_id)
        client.set_registered_model_alias(model, CHAMPION, "1")
        args = ["hygiene", "--workload", "cifar10", "--max-age-days", "0", "--keep-last", "1"]
        dry = _invoke([*args, "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert f"would archive {model} v2" in dry.output and f"kept {model} v1: alias champion" in dry.output
        assert ARCHIVED_TAG not in client.get_model_version(model, "2").tags
        done = _invoke(args)
        assert done.exit_code == 0 and f"archived {model} v2" in done.output
        assert f"{model}: 1 of 3 versions archived" in done.output
        assert client.get_model_version(model, "2").tags[ARCHIVED_TAG] == "true"
    finally:
        client.delete_registered_model(model)
