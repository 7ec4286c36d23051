"""Registry hygiene: archive old versions nobody uses; never delete, never touch an aliased version.

A version is archived when it is older than `max_age_days`, carries no alias (so neither `champion`
nor `challenger`), is not among the newest `keep_last` versions, and is not archived already.
Archiving is tags only (`mlops.archived=true`, when, why, and the alias-free state it was in), which
`promote` refuses; the artifacts and the version stay. Removing the tags restores a version.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlops_core.logs import get_logger

log = get_logger(__name__)

ARCHIVED_TAG = "mlops.archived"  # also checked by registry.promote
ARCHIVED_AT_TAG = "mlops.archived_at"
ARCHIVED_REASON_TAG = "mlops.archived_reason"
ARCHIVED_STATE_TAG = "mlops.archived_state"
LAST_HYGIENE_TAG = "mlops.hygiene.last_run"


class HygieneAction(StrEnum):
    ARCHIVE = "archive"
    KEEP = "keep"


@dataclass(frozen=True)
class VersionPlan:
    version: str
    action: HygieneAction
    reason: str
    age_days: float
    aliases: tuple[str, ...]


def _age_days(version: ModelVersion, now: datetime) -> float:
    created = datetime.fromtimestamp(version.creation_timestamp / 1000, tz=UTC)
    return (now - created) / timedelta(days=1)


def plan_hygiene(
    versions: list[ModelVersion], now: datetime, max_age_days: float, keep_last: int
) -> list[VersionPlan]:
    """What to do with each version, newest first (pure: no registry calls)."""
    if max_age_days < 0 or keep_last < 0:
        raise ValueError("max_age_days and keep_last must not be negative")
    ordered = sorted(versions, key=lambda v: int(v.version), reverse=True)
    newest = {v.version for v in ordered[:keep_last]}
    plan = []
    for v in ordered:
        age = _age_days(v, now)
        aliases = tuple(sorted(v.aliases or ()))
        if aliases:
            action, reason = HygieneAction.KEEP, f"alias {', '.join(aliases)}"
        elif v.tags.get(ARCHIVED_TAG) == "true":
            action, reason = (
                HygieneAction.KEEP,
                f"already archived ({v.tags.get(ARCHIVED_AT_TAG, 'unknown time')})",
            )
        elif v.version in newest:
            action, reason = HygieneAction.KEEP, f"among the newest {keep_last}"
        elif age <= max_age_days:
            action, reason = HygieneAction.KEEP, f"{age:.1f} days old (limit {max_age_days:g})"
        else:
            action = HygieneAction.ARCHIVE
            reason = (
                f"{age:.1f} days old (limit {max_age_days:g}), no alias, not among the newest {keep_last}"
            )
        plan.append(VersionPlan(v.version, action, reason, age, aliases))
    return plan


@dataclass(frozen=True)
class HygieneResult:
    model: str
    plan: list[VersionPlan]
    archived: list[str]
    skipped: list[str]  # planned, but an alias appeared before it was archived
    dry_run: bool

    def lines(self) -> list[str]:
        verb = "would archive" if self.dry_run else "archived"
        out = []
        for item in self.plan:
            if item.action is HygieneAction.ARCHIVE and item.version not in self.skipped:
                out.append(f"{verb} {self.model} v{item.version}: {item.reason}")
            elif item.version in self.skipped:
                out.append(f"kept {self.model} v{item.version}: gained an alias while archiving")
            else:
                out.append(f"kept {self.model} v{item.version}: {item.reason}")
        planned = sum(1 for p in self.plan if p.action is HygieneAction.ARCHIVE)
        summary = (
            f"{self.model}: {planned - len(self.skipped)} of {len(self.plan)} versions "
            f"{'would be ' if self.dry_run else ''}archived"
            + (" (dry run: nothing changed)" if self.dry_run else "")
        )
        return [*out, summary]


def _archive(client: MlflowClient, model: str, item: VersionPlan, now: datetime, settings: dict) -> bool:
    """Tag one version archived unless it gained an alias since planning; True when archived."""
    current = client.get_model_version(model, item.version)
    if current.aliases:
        log.warning("version gained an alias; not archiving", model=model, version=item.version)
        return False
    state = {"aliases": [], "age_days": round(item.age_days, 2), **settings}
    tags = {
        ARCHIVED_TAG: "true",
        ARCHIVED_AT_TAG: now.isoformat(timespec="seconds"),
        ARCHIVED_REASON_TAG: item.reason,
        ARCHIVED_STATE_TAG: json.dumps(state, sort_keys=True),
    }
    for key, value in tags.items():
        client.set_model_version_tag(model, item.version, key, value)
    log.info("archived model version", model=model, version=item.version, reason=item.reason)
    return True


def run_hygiene(
    client: MlflowClient,
    model: str,
    max_age_days: float,
    keep_last: int,
    dry_run: bool,
    now: datetime | None = None,
) -> HygieneResult | None:
    """Plan and (unless `dry_run`) apply; None when the registered model does not exist."""
    now = now or datetime.now(UTC)
    try:
        client.get_registered_model(model)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    # Aliases come with get_model_version, not reliably with search results: read each version.
    versions = [
        client.get_model_version(model, v.version) for v in client.search_model_versions(f"name = '{model}'")
    ]
    plan = plan_hygiene(versions, now, max_age_days, keep_last)
    archived: list[str] = []
    skipped: list[str] = []
    if not dry_run:
        settings = {"max_age_days": max_age_days, "keep_last": keep_last}
        for item in plan:
            if item.action is HygieneAction.ARCHIVE:
                (archived if _archive(client, model, item, now, settings) else skipped).append(item.version)
        record = {"at": now.isoformat(timespec="seconds"), "archived": archived, **settings}
        client.set_registered_model_tag(model, LAST_HYGIENE_TAG, json.dumps(record))
    return HygieneResult(model, plan, archived, skipped, dry_run)
