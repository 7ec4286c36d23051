"""The one MLflow client wrapper: connect, find or open the run that belongs to a run key."""

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import mlflow
from mlflow.entities import Run, RunStatus
from mlflow.tracking import MlflowClient

from mlops_core.errors import RunNotFoundError
from mlops_core.logs import get_logger
from mlops_core.naming import Tag, TrackingNames
from mlops_core.run_context import RunContext

log = get_logger(__name__)


def connect(tracking_uri: str | None = None) -> MlflowClient:
    """Client for `tracking_uri`, else MLFLOW_TRACKING_URI; also points the fluent API there."""
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise RuntimeError("no MLflow server configured: pass --tracking-uri or set MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def resolve_run_key(explicit: str | None, context: RunContext) -> str:
    """The key that makes a training run idempotent: given, else the Airflow DAG run, else unique."""
    if explicit:
        return explicit
    if context.dag_id and context.dag_run_id:
        return f"{context.dag_id}/{context.dag_run_id}"
    return f"adhoc/{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class KeyedRun:
    run_id: str
    run_key: str
    experiment_id: str
    reused: bool


def _experiment_id(client: MlflowClient, experiment: str) -> str:
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return client.create_experiment(experiment)
    if found.lifecycle_stage == "deleted":
        client.restore_experiment(found.experiment_id)
    return found.experiment_id


def _runs_with_key(client: MlflowClient, experiment_id: str, run_key: str) -> list[Run]:
    escaped = run_key.replace("'", "\\'")
    return client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{Tag.RUN_KEY}` = '{escaped}'",
        order_by=["attributes.start_time DESC"],
    )


def find_completed_run(client: MlflowClient, names: TrackingNames, run_key: str) -> Run:
    experiment = client.get_experiment_by_name(names.experiment)
    runs = _runs_with_key(client, experiment.experiment_id, run_key) if experiment else []
    for run in runs:
        if run.data.tags.get(Tag.TRAINING_COMPLETE) == "true":
            return run
    raise RunNotFoundError(f"no completed training run with run key {run_key!r} in {names.experiment!r}")


def open_keyed_run(
    client: MlflowClient, names: TrackingNames, run_key: str, context: RunContext, run_name: str
) -> KeyedRun:
    """Reuse the completed run for `run_key`, or start a new one that supersedes unfinished attempts."""
    experiment_id = _experiment_id(client, names.experiment)
    previous = _runs_with_key(client, experiment_id, run_key)
    for run in previous:
        if run.data.tags.get(Tag.TRAINING_COMPLETE) == "true":
            log.info("run key already trained; reusing run", run_key=run_key, run_id=run.info.run_id)
            return KeyedRun(run.info.run_id, run_key, experiment_id, reused=True)

    tags = {Tag.RUN_KEY: run_key, **context.tags()}
    run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    for stale in previous:
        # An attempt that died (pod preempted, task retried) stays for forensics, marked replaced.
        client.set_tag(stale.info.run_id, Tag.SUPERSEDED_BY, run.info.run_id)
        if stale.info.status == RunStatus.to_string(RunStatus.RUNNING):
            client.set_terminated(stale.info.run_id, status=RunStatus.to_string(RunStatus.KILLED))
    log.info("opened training run", run_key=run_key, run_id=run.info.run_id, superseded=len(previous))
    return KeyedRun(run.info.run_id, run_key, experiment_id, reused=False)


def mark_training_complete(client: MlflowClient, run_id: str) -> None:
    client.set_tag(run_id, Tag.TRAINING_COMPLETE, "true")
