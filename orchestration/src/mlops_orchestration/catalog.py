"""The workload catalog: one YAML describing every DAG, validated before anything is built."""

import re
from datetime import timedelta
from pathlib import Path
from string import Template
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlops_orchestration.constants import GPU_RESOURCE, PLATFORM_TEAM, SPARK_SERVICE

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# Placeholders the launchers fill in args (Jinja `{{ }}` stays for Airflow's own templating).
PLACEHOLDERS = {"data_root", "workload", "gate_min_improvement", "gate_min_value"}


class CatalogError(ValueError):
    """The catalog is invalid; the message lists every problem with its location."""


def parse_duration(value: str | int | timedelta) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int):
        return timedelta(seconds=value)
    match = _DURATION.match(value.strip())
    if not match:
        raise ValueError(f"duration {value!r} must look like 90s, 5m, 2h or 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


Duration = Annotated[timedelta, Field(description="e.g. 30s, 5m, 2h, 1d")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Toleration(Strict):
    key: str
    operator: Literal["Exists", "Equal"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class NodePool(Strict):
    node_selector: dict[str, str]
    tolerations: list[Toleration] = []


class PoolSpec(Strict):
    slots: int = Field(ge=1)
    description: str = ""
    include_deferred: bool = False


class Resources(Strict):
    cpu: str = Field(pattern=r"^\d+(\.\d+)?m?$")
    memory: str = Field(pattern=r"^\d+(Ki|Mi|Gi|Ti)$")
    gpu: int = Field(0, ge=0)


class Team(Strict):
    owner: str
    role: str = Field(description="FAB role that may see and run this team's DAGs")
    owner_links: dict[str, str] = {}


class Step(Strict):
    """One container invocation: the argv of the workload CLI (first element: the executable)."""

    command: list[str] = Field(min_length=1)
    execution_timeout: Duration | None = None

    @field_validator("execution_timeout", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return None if value is None else parse_duration(value)  # type: ignore[arg-type]

    @field_validator("command")
    @classmethod
    def _known_placeholders(cls, command: list[str]) -> list[str]:
        for arg in command:
            for match in Template.pattern.finditer(arg):
                name = match.group("named") or match.group("braced")
                if name and name not in PLACEHOLDERS:
                    raise ValueError(
                        f"unknown placeholder ${{{name}}} in {arg!r}; known: {sorted(PLACEHOLDERS)}"
                    )
        return command


class GateSpec(Strict):
    metric: str
    greater_is_better: bool
    min_improvement: float = Field(0.0, ge=0, lt=1)
    min_value: float | None = None


class Monitoring(Strict):
    """Nightly quality report of the champion; past a threshold it requests a retrain (see management.py)."""

    report: Step
    max_degradation: float = Field(
        0.2, gt=0, description="relative worsening of the gate metric that triggers"
    )
    max_psi: float = Field(0.25, gt=0, description="population stability index of any feature that triggers")
    cooldown: Duration = Field(default_factory=lambda: timedelta(hours=12))
    daily_budget: int = Field(2, ge=0, description="retrain requests per model per day at most")

    @field_validator("cooldown", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value)  # type: ignore[arg-type]


_JVM_SIZE = re.compile(r"^([1-9]\d*)([mg])$")
_MIN_EXECUTOR_MEMORY_MB = 512  # Spark refuses executors under ~450 MiB of heap


class SparkExecutors(Strict):
    """Spark executors as pods: in `kubernetes` launch mode the step's pod becomes the Spark driver
    (client mode) and Spark's own Kubernetes scheduler starts these executors. Other modes run local[*]."""

    executors: int = Field(ge=1, le=32, description="executor pods")
    executor_cores: int = Field(1, ge=1, le=16, description="task slots (and CPU request) per executor")
    executor_memory: str = Field("1g", description="JVM heap per executor, e.g. 512m or 2g")

    @field_validator("executor_memory")
    @classmethod
    def _jvm_size(cls, value: str) -> str:
        match = _JVM_SIZE.match(value)
        if not match:
            raise ValueError(f"executor_memory {value!r} must be a JVM size like 512m or 2g")
        megabytes = int(match.group(1)) * (1024 if match.group(2) == "g" else 1)
        if megabytes < _MIN_EXECUTOR_MEMORY_MB:
            raise ValueError(f"executor_memory {value!r} is below Spark's minimum; use at least 512m")
        return value


class WorkloadSpec(Strict):
    dag_id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["training", "features"]
    workload: str = Field(description="workload name the service CLIs and `mlops` know")
    description: str
    team: str
    schedule: str | None = Field(
        None, description="cron/preset, or null when scheduled on an asset or manual"
    )
    schedule_on_asset: str | None = None
    produces_asset: str | None = None
    catchup: bool = False
    start_date: str = "2026-01-01"
    tags: list[str] = Field(min_length=1)
    service: Literal["training-lgbm", "training-cnn", "tick-features"]
    node_pool: str
    resources: Resources
    pool: str
    queue: str = "default"
    priority_weight: int = Field(1, ge=1)
    priority_class: str = "mlops-training"
    retries: int = Field(ge=0, le=10)
    retry_delay: Duration
    execution_timeout: Duration
    max_active_runs: int = Field(1, ge=1)
    experiment: str | None = None
    registered_model: str | None = None
    gate: GateSpec | None = None
    auto_promote: bool = False
    monitoring: Monitoring | None = None
    env: dict[str, str] = Field({}, description="extra environment for every step of this workload")
    spark: SparkExecutors | None = Field(None, description="the build step's Spark executors as pods")
    steps: dict[str, Step]

    @field_validator("retry_delay", "execution_timeout", mode="before")
    @classmethod
    def _durations(cls, value: object) -> object:
        return parse_duration(value)  # type: ignore[arg-type]

    @model_validator(mode="after")
    def _per_kind(self) -> "WorkloadSpec":
        required_steps = {"training": {"validate", "train"}, "features": {"validate", "build"}}[self.kind]
        if missing := required_steps - set(self.steps):
            raise ValueError(f"{self.kind} workload needs steps {sorted(missing)}")
        if self.kind == "training" and not (self.experiment and self.registered_model and self.gate):
            raise ValueError("a training workload needs experiment, registered_model and gate")
        if self.schedule and self.schedule_on_asset:
            raise ValueError("give either schedule or schedule_on_asset, not both")
        if self.kind != "training" and (self.auto_promote or self.monitoring):
            raise ValueError("auto_promote and monitoring only apply to training workloads")
        if self.spark and (self.kind != "features" or self.service != SPARK_SERVICE):
            raise ValueError(
                f"spark executors apply to the build step of a features workload on {SPARK_SERVICE!r}"
                f" (its image runs the Spark executors), not to {self.kind} on {self.service!r}"
            )
        return self


class LightSteps(Strict):
    """Where validation, gate and register steps run: small, on CPU, never holding a GPU slot."""

    resources: Resources
    node_pool: str
    pool: str


class Hygiene(Strict):
    max_age_days: int = Field(30, ge=1)
    keep_last: int = Field(3, ge=0)


class ModelManagement(Strict):
    dag_id: str = "model_management"
    team: str
    schedule: str
    retries: int = Field(1, ge=0)
    execution_timeout: Duration = Field(default_factory=lambda: timedelta(hours=1))
    hygiene: Hygiene = Field(default_factory=Hygiene)

    @field_validator("execution_timeout", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value)  # type: ignore[arg-type]


class Catalog(Strict):
    version: Literal[1]
    light_steps: LightSteps
    model_management: ModelManagement | None = None
    teams: dict[str, Team]
    node_pools: dict[str, NodePool]
    pools: dict[str, PoolSpec]
    workloads: list[WorkloadSpec]

    @model_validator(mode="after")
    def _references(self) -> "Catalog":
        problems = []
        if self.light_steps.node_pool not in self.node_pools:
            problems.append(f"light_steps: unknown node_pool {self.light_steps.node_pool!r}")
        if self.light_steps.pool not in self.pools:
            problems.append(f"light_steps: unknown pool {self.light_steps.pool!r}")
        if PLATFORM_TEAM not in self.teams:
            problems.append(f"teams: the platform team {PLATFORM_TEAM!r} (owner of promote_model) is missing")
        if self.model_management and self.model_management.team not in self.teams:
            problems.append(f"model_management: unknown team {self.model_management.team!r}")
        seen: set[str] = set()
        produced = {w.produces_asset for w in self.workloads if w.produces_asset}
        for w in self.workloads:
            where = f"workload {w.dag_id}"
            if w.dag_id in seen:
                problems.append(f"{where}: duplicate dag_id")
            seen.add(w.dag_id)
            if w.team not in self.teams:
                problems.append(f"{where}: unknown team {w.team!r} (teams: {sorted(self.teams)})")
            if w.node_pool not in self.node_pools:
                problems.append(
                    f"{where}: unknown node_pool {w.node_pool!r} (node_pools: {sorted(self.node_pools)})"
                )
            if w.pool not in self.pools:
                problems.append(f"{where}: unknown pool {w.pool!r} (pools: {sorted(self.pools)})")
            if w.schedule_on_asset and w.schedule_on_asset not in produced:
                problems.append(
                    f"{where}: schedule_on_asset {w.schedule_on_asset!r} is produced by no workload"
                )
            pool = self.node_pools.get(w.node_pool)
            if pool and w.resources.gpu and not any(t.key == GPU_RESOURCE for t in pool.tolerations):
                problems.append(
                    f"{where}: requests a GPU but node_pool {w.node_pool!r} does not tolerate {GPU_RESOURCE}"
                )
        if problems:
            raise ValueError("\n    ".join(problems))
        return self

    def workload(self, dag_id: str) -> WorkloadSpec:
        for w in self.workloads:
            if w.dag_id == dag_id:
                return w
        raise KeyError(f"no workload with dag_id {dag_id!r}")


def load_catalog(path: Path) -> Catalog:
    """Parse and validate; every problem is reported with its location in the file."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path}: cannot read catalog: {exc}") from exc
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: {exc.error_count()} problem(s) in the workload catalog:"]
        for error in exc.errors():
            location = _describe_location(raw, error["loc"])
            lines.append(f"  - {location}: {error['msg'].removeprefix('Value error, ')}")
        raise CatalogError("\n".join(lines)) from exc


def _describe_location(raw: object, loc: tuple[int | str, ...]) -> str:
    """`workloads[2] (mnist_cnn_training).resources.cpu` rather than `workloads.2.resources.cpu`."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            if (
                isinstance(node, list)
                and key < len(node)
                and isinstance(node[key], dict)
                and "dag_id" in node[key]
            ):
                label += f" ({node[key]['dag_id']})"
            parts.append(label)
            node = node[key] if isinstance(node, list) and key < len(node) else None
        else:
            parts.append(f".{key}" if parts else str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts) or "catalog"
