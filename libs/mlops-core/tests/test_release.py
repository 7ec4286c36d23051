"""Run keys, the gate's champion check and promotion against a real MLflow server."""

import itertools

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from mlops_core.errors import RegistryError
from mlops_core.gate import GateThresholds, GateVerdict
from mlops_core.naming import CHALLENGER, CHAMPION, Tag, TrackingNames
from mlops_core.registry import promote, version_for_alias
from mlops_core.release import GateInputs, record_gate_inputs, release
from mlops_core.run_context import RunContext
from mlops_core.tracking import connect, mark_training_complete, open_keyed_run

THRESHOLDS = GateThresholds(metric="mae", greater_is_better=False, min_improvement=0.1)
_counter = itertools.count()


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input: list[float]) -> list[float]:
        return model_input


@pytest.fixture
def names() -> TrackingNames:
    n = next(_counter)
    return TrackingNames(experiment=f"exp-{n}", registered_model=f"model_{n}")


@pytest.fixture
def client(tracking_uri: str) -> MlflowClient:
    return connect(tracking_uri)


CONTEXT = RunContext(data_version="sha256:test", git_sha="abc", image="local", code_version="mlops-core==0")


def trained_run(client: MlflowClient, names: TrackingNames, key: str, inputs: GateInputs) -> str:
    keyed = open_keyed_run(client, names, key, CONTEXT, run_name=key)
    with mlflow.start_run(run_id=keyed.run_id):
        mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=[])
    record_gate_inputs(client, keyed.run_id, THRESHOLDS, inputs)
    mark_training_complete(client, keyed.run_id)
    return keyed.run_id


def test_run_key_reuses_completed_runs_and_supersedes_dead_attempts(
    client: MlflowClient, names: TrackingNames
) -> None:
    dead = open_keyed_run(client, names, "dag/run/1", CONTEXT, "attempt-1")  # e.g. a preempted pod
    retry = open_keyed_run(client, names, "dag/run/1", CONTEXT, "attempt-2")
    assert not retry.reused and retry.run_id != dead.run_id
    assert client.get_run(dead.run_id).data.tags[Tag.SUPERSEDED_BY] == retry.run_id
    assert client.get_run(dead.run_id).info.status == "KILLED"
    mark_training_complete(client, retry.run_id)
    again = open_keyed_run(client, names, "dag/run/1", CONTEXT, "attempt-3")
    assert again.reused and again.run_id == retry.run_id


def test_release_registers_once_and_sets_challenger(client: MlflowClient, names: TrackingNames) -> None:
    run_id = trained_run(client, names, "k", GateInputs(candidate=0.5, baseline=1.0))
    first = release(client, names, run_id)
    second = release(client, names, run_id)
    assert first.newly_registered and not second.newly_registered
    assert first.version.version == second.version.version == "1"
    assert len(client.search_model_versions(f"name = '{names.registered_model}'")) == 1
    assert version_for_alias(client, names.registered_model, CHALLENGER).version == "1"
    assert first.version.tags["mlops.gate.baseline"] == "1"


def test_a_registration_interrupted_before_its_alias_is_completed_by_the_rerun(
    client: MlflowClient, names: TrackingNames
) -> None:
    run_id = trained_run(client, names, "k", GateInputs(candidate=0.5, baseline=1.0))
    first = release(client, names, run_id)
    # As if the server went away after the version was created and before the alias was set.
    client.delete_registered_model_alias(names.registered_model, CHALLENGER)
    rerun = release(client, names, run_id)
    assert not rerun.newly_registered and rerun.version.version == first.version.version
    assert rerun.version.aliases == [CHALLENGER]
    assert len(client.search_model_versions(f"name = '{names.registered_model}'")) == 1


def test_a_rerun_leaves_a_promoted_version_and_a_newer_challenger_alone(
    client: MlflowClient, names: TrackingNames
) -> None:
    old_run = trained_run(client, names, "a", GateInputs(candidate=0.5, baseline=1.0))
    old = release(client, names, old_run).version.version
    promote(client, names.registered_model, old, actor="ops", reason="first")
    new_run = trained_run(client, names, "b", GateInputs(0.4, 1.0, champion=0.5, champion_version=old))
    new = release(client, names, new_run).version.version
    assert release(client, names, old_run).version.aliases == [CHAMPION]
    assert version_for_alias(client, names.registered_model, CHALLENGER).version == new


def test_gate_refuses_when_the_champion_moved_after_evaluation(
    client: MlflowClient, names: TrackingNames
) -> None:
    champion_run = trained_run(client, names, "a", GateInputs(candidate=0.5, baseline=1.0))
    stale_run = trained_run(client, names, "b", GateInputs(candidate=0.4, baseline=1.0))  # saw no champion
    version = release(client, names, champion_run).version.version
    promote(client, names.registered_model, version, actor="ops", reason="first")
    outcome = release(client, names, stale_run)
    assert outcome.decision.verdict is GateVerdict.STALE_CHAMPION and outcome.version is None
    assert client.get_run(stale_run).data.tags[Tag.GATE_VERDICT] == "stale_champion"


def test_promotion_records_who_and_why_and_refuses_bad_requests(
    client: MlflowClient, names: TrackingNames
) -> None:
    one = release(client, names, trained_run(client, names, "1", GateInputs(0.5, 1.0))).version.version
    promote(client, names.registered_model, one, actor="alice", reason="baseline model")
    two_run = trained_run(client, names, "2", GateInputs(0.4, 1.0, champion=0.5, champion_version=one))
    two = release(client, names, two_run).version.version
    done = promote(client, names.registered_model, two, actor="bob", reason="lower MAE")
    assert done.previous_champion == one
    tags = client.get_model_version(names.registered_model, two).tags
    assert tags[Tag.PROMOTED_BY] == "bob" and tags[Tag.PROMOTED_REASON] == "lower MAE"
    assert tags[Tag.PREVIOUS_CHAMPION] == one
    assert Tag.DEMOTED_AT in client.get_model_version(names.registered_model, one).tags
    assert version_for_alias(client, names.registered_model, CHAMPION).version == two
    assert version_for_alias(client, names.registered_model, CHALLENGER) is None
    with pytest.raises(RegistryError, match="no version '99'"):
        promote(client, names.registered_model, "99", actor="bob", reason="typo")
    with pytest.raises(RegistryError, match="needs a reason"):
        promote(client, names.registered_model, one, actor="bob", reason=" ")
    assert version_for_alias(client, names.registered_model, CHAMPION).version == two  # untouched
