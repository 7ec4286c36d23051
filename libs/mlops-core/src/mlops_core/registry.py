"""Registry operations: find the champion, register a challenger once per run, promote deliberately."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlops_core.errors import RegistryError
from mlops_core.logs import get_logger
from mlops_core.naming import CHALLENGER, CHAMPION, MODEL_ARTIFACT, Tag

log = get_logger(__name__)


def version_for_alias(client: MlflowClient, model_name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def resolve_champion(client: MlflowClient, model_name: str) -> ModelVersion | None:
    return version_for_alias(client, model_name, CHAMPION)


def version_for_run(client: MlflowClient, model_name: str, run_id: str) -> ModelVersion | None:
    versions = client.search_model_versions(f"name = '{model_name}' and run_id = '{run_id}'")
    return min(versions, key=lambda v: int(v.version)) if versions else None


@dataclass(frozen=True)
class Registration:
    version: ModelVersion
    created: bool


def register_challenger(
    client: MlflowClient, model_name: str, run_id: str, evidence: dict[str, str]
) -> Registration:
    """Register the run's model (once: a run never gets a second version) and point `challenger` at it."""
    existing = version_for_run(client, model_name, run_id)
    if existing is not None:
        log.info("run already registered; not registering again", model=model_name, version=existing.version)
        _complete_registration(client, model_name, existing)
        return Registration(client.get_model_version(model_name, existing.version), created=False)
    try:
        client.get_registered_model(model_name)
    except MlflowException:
        client.create_registered_model(model_name)
    run = client.get_run(run_id)
    tags = {**evidence, Tag.RUN_KEY: run.data.tags.get(Tag.RUN_KEY, ""), "mlops.run_id": run_id}
    version = mlflow.register_model(f"runs:/{run_id}/{MODEL_ARTIFACT}", model_name, tags=tags)
    client.set_registered_model_alias(model_name, CHALLENGER, version.version)
    log.info("registered challenger", model=model_name, version=version.version, run_id=run_id)
    return Registration(client.get_model_version(model_name, version.version), created=True)


def _complete_registration(client: MlflowClient, model_name: str, version: ModelVersion) -> None:
    """Give `challenger` to a version whose registration stopped between creating it and setting the
    alias (the server went away in between), so that a rerun finishes the job. A version that holds an
    alias, was ever promoted, or has a newer challenger beside it is left as it is."""
    if version.aliases or Tag.PROMOTED_BY in version.tags:
        return
    current = version_for_alias(client, model_name, CHALLENGER)
    if current is not None and int(current.version) > int(version.version):
        return
    client.set_registered_model_alias(model_name, CHALLENGER, version.version)
    log.warning("completed an interrupted registration", model=model_name, version=version.version)


@dataclass(frozen=True)
class Promotion:
    model_name: str
    version: str
    previous_champion: str | None


def promote(
    client: MlflowClient,
    model_name: str,
    version: str,
    actor: str,
    reason: str,
    evidence: Mapping[str, str] | None = None,
) -> Promotion:
    """Move `champion` to `version`, recording who and why on the version (and the one it replaces).

    `evidence`: more tags to record with them (the challenger's shadow-traffic summary).
    """
    if not actor.strip():
        raise RegistryError("promotion needs the name of the person or system approving it")
    if not reason.strip():
        raise RegistryError("promotion needs a reason")
    try:
        target = client.get_model_version(model_name, version)
    except MlflowException as exc:
        raise RegistryError(f"model {model_name!r} has no version {version!r}") from exc
    if target.current_stage == "Archived" or target.tags.get("mlops.archived") == "true":
        raise RegistryError(f"{model_name} v{version} is archived and cannot be promoted")

    previous = resolve_champion(client, model_name)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    tags = {**(evidence or {}), Tag.PROMOTED_BY: actor, Tag.PROMOTED_REASON: reason, Tag.PROMOTED_AT: now}
    if previous is not None:
        tags[Tag.PREVIOUS_CHAMPION] = previous.version
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, value)
    client.set_registered_model_alias(model_name, CHAMPION, version)
    if previous is not None and previous.version != version:
        client.set_model_version_tag(model_name, previous.version, Tag.DEMOTED_AT, now)
    challenger = version_for_alias(client, model_name, CHALLENGER)
    if challenger is not None and challenger.version == version:
        client.delete_registered_model_alias(model_name, CHALLENGER)
    log.info("promoted", model=model_name, version=version, previous=previous and previous.version, by=actor)
    return Promotion(model_name, version, previous.version if previous else None)
