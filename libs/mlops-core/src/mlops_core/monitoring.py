"""The shared end of every `report` command: log the quality report, then decide about retraining.

A report is a run in the workload's experiment (tag `mlops.run_kind=quality_report`) holding the report
(Markdown, HTML, JSON, SVG plots) and its numbers. The headline numbers are also logged against the
champion's logged model, so the model version carries one row per nightly report, and the latest values
are copied into version tags for the registry page. Only then is the retrain policy applied.
"""

import contextlib
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow.entities import Metric, Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlops_core.exit_codes import ExitCode
from mlops_core.gate import GateThresholds, candidate_metric
from mlops_core.logs import get_logger
from mlops_core.naming import Tag, TrackingNames, Workload, tracking_names
from mlops_core.quality import DriftComparison, PerformanceComparison, QualityReport
from mlops_core.quality_render import plot_files, to_html, to_markdown
from mlops_core.registry import resolve_champion
from mlops_core.retrain_policy import RetrainDecision, RetrainPolicy, apply_policy, retrain_signals
from mlops_core.run_context import RunContext, collect_run_context
from mlops_core.tracking import connect

log = get_logger(__name__)

REPORT_DIR = "quality"
RUN_KIND_TAG = "mlops.run_kind"
REPORT_RUN_KIND = "quality_report"
REPORTED_MODEL_TAG = "mlops.quality.model"
REPORTED_VERSION_TAG = "mlops.quality.model_version"
RETRAIN_VERDICT_TAG = "mlops.retrain.verdict"
RETRAIN_REASON_TAG = "mlops.retrain.reason"
# On the model version: where and when it was last reported on, and the latest headline numbers.
LAST_REPORT_RUN_TAG = "mlops.quality.last_report_run"
LAST_REPORTED_AT_TAG = "mlops.quality.last_reported_at"
LAST_VERDICT_TAG = "mlops.quality.last_retrain_verdict"

_METRIC_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-./ ]")


def _metric_key(name: str) -> str:
    return _METRIC_KEY_UNSAFE.sub("_", name)


def _end_run(client: MlflowClient, run_id: str, status: str) -> None:
    # MLflow prints "View run ..." links to stdout here; stdout's last line is the report's summary.
    with contextlib.redirect_stdout(sys.stderr):
        client.set_terminated(run_id, status=status)


@dataclass(frozen=True)
class ChampionUnderReview:
    """The `champion` version, its training run and the gate thresholds that run recorded."""

    model_name: str
    version: ModelVersion
    run: Run
    thresholds: GateThresholds

    @property
    def uri(self) -> str:
        """Pinned to the version, so an alias move during the report cannot mix two models."""
        return f"models:/{self.model_name}/{self.version.version}"

    @property
    def metric_at_training(self) -> float | None:
        return self.run.data.metrics.get(candidate_metric(self.thresholds.metric))

    def param(self, key: str) -> str | None:
        return self.run.data.params.get(key)

    def quality_report(
        self,
        workload: str,
        generated_at: datetime,
        data_version: str,
        performance: PerformanceComparison | None,
        drift: list[DriftComparison],
        notes: list[str],
    ) -> QualityReport:
        """A report on this champion (model, version and training run filled in from it)."""
        return QualityReport(
            workload=workload,
            model=self.model_name,
            version=self.version.version,
            model_run_id=self.run.info.run_id,
            generated_at=generated_at,
            data_version=data_version,
            performance=performance,
            drift=drift,
            notes=notes,
        )


def champion_under_review(client: MlflowClient, names: TrackingNames) -> ChampionUnderReview | None:
    version = resolve_champion(client, names.registered_model)
    if version is None:
        return None
    run = client.get_run(version.run_id)
    return ChampionUnderReview(
        model_name=names.registered_model,
        version=version,
        run=run,
        thresholds=GateThresholds.from_params(run.data.params),
    )


@dataclass(frozen=True)
class ReportOutcome:
    model: str
    version: str | None
    verdict: str
    reason: str
    exit_code: ExitCode
    report: QualityReport | None = None
    report_run_id: str | None = None

    def summary(self) -> str:
        """One line (the DAG attaches it to the retrain request)."""
        if self.version is None:
            return f"{self.model}: no champion -> retrain {self.verdict}: {self.reason}"
        parts = [f"{self.model} v{self.version}:"]
        report = self.report
        perf = report.performance if report else None
        if perf is not None and perf.current is not None and perf.degradation is not None:
            parts.append(
                f"{perf.metric}={perf.current:.4g} (training {perf.at_training:.4g}, "
                f"degradation {perf.degradation:+.1%}, {perf.rows} rows)"
            )
        elif perf is not None:
            parts.append(f"{perf.metric}=n/a (no new labelled data)")
        if report is not None and report.max_psi is not None:
            parts.append(f"max_psi={report.max_psi:.3f}")
        parts.append(f"-> retrain {self.verdict}: {self.reason}")
        if self.report_run_id:
            parts.append(f"[report run {self.report_run_id}]")
        return " ".join(parts)


def no_champion(model: str) -> ReportOutcome:
    return ReportOutcome(
        model=model,
        version=None,
        verdict="no_champion",
        reason=f"{model} has no champion alias; nothing to report on",
        exit_code=ExitCode.NO_RETRAIN,
    )


def logged_model_id(client: MlflowClient, champion: ChampionUnderReview) -> str | None:
    """The MLflow 3 logged model behind the version (its metrics show on the version), if any."""
    source = str(champion.version.source or "")
    if source.startswith("models:/m-"):
        return source.removeprefix("models:/").split("/")[0]
    try:
        found = client.search_logged_models(
            [champion.run.info.experiment_id], filter_string=f"source_run_id = '{champion.run.info.run_id}'"
        )
    except MlflowException:
        return None
    return found[0].model_id if len(found) == 1 else None


def _log_numbers(client: MlflowClient, run_id: str, report: QualityReport, model_id: str | None) -> None:
    stamp = int(time.time() * 1000)
    headline = [
        Metric(_metric_key(k), v, stamp, 0, model_id=model_id) for k, v in report.headline_metrics().items()
    ]
    drift = [Metric(_metric_key(k), v, stamp, 0) for k, v in report.drift_metrics().items()]
    for start in range(0, len(headline) + len(drift), 500):
        client.log_batch(run_id, metrics=(headline + drift)[start : start + 500])


def publish_report(
    client: MlflowClient,
    champion: ChampionUnderReview,
    report: QualityReport,
    context: RunContext,
    policy: RetrainPolicy,
) -> str:
    """Log the report as a run; the model version gets the numbers and a pointer to the run."""
    version = champion.version.version
    run = client.create_run(
        champion.run.info.experiment_id,
        run_name=f"quality-v{version}-{report.generated_at:%Y%m%dT%H%M%SZ}",
        tags={
            **context.tags(),
            RUN_KIND_TAG: REPORT_RUN_KIND,
            Tag.WORKLOAD: report.workload,
            REPORTED_MODEL_TAG: champion.model_name,
            REPORTED_VERSION_TAG: version,
        },
    )
    run_id = run.info.run_id
    try:
        for key, value in policy.model_dump(mode="json").items():
            client.log_param(run_id, f"policy.{key}", str(value))
        client.log_text(run_id, to_markdown(report), f"{REPORT_DIR}/report.md")
        client.log_text(run_id, to_html(report, policy.max_psi), f"{REPORT_DIR}/report.html")
        for path, svg in plot_files(report, policy.max_psi).items():
            client.log_text(run_id, svg, f"{REPORT_DIR}/{path}")
        client.log_text(run_id, report.model_dump_json(indent=2), f"{REPORT_DIR}/report.json")
        _log_numbers(client, run_id, report, logged_model_id(client, champion))
        version_tags = {
            LAST_REPORT_RUN_TAG: run_id,
            LAST_REPORTED_AT_TAG: report.generated_at.isoformat(timespec="seconds"),
            **{
                f"mlops.quality.{k.removeprefix('monitor_')}": f"{v:.6g}"
                for k, v in report.headline_metrics().items()
            },
        }
        for key, value in version_tags.items():
            client.set_model_version_tag(champion.model_name, version, key, value)
    except Exception:
        _end_run(client, run_id, "FAILED")
        raise
    log.info("quality report logged", model=champion.model_name, version=version, run_id=run_id)
    return run_id


def conclude_report(
    client: MlflowClient,
    champion: ChampionUnderReview,
    report: QualityReport,
    policy: RetrainPolicy,
    context: RunContext,
    now: datetime | None = None,
) -> ReportOutcome:
    """Publish, then apply the retrain policy (recording a granted request), then close the report run."""
    run_id = publish_report(client, champion, report, context, policy)
    try:
        decision: RetrainDecision = apply_policy(
            client, champion.model_name, champion.version.version, retrain_signals(report, policy), policy,
            now or datetime.now(UTC),
        )  # fmt: skip
        client.set_tag(run_id, RETRAIN_VERDICT_TAG, decision.verdict.value)
        client.set_tag(run_id, RETRAIN_REASON_TAG, decision.reason[:4000])
        client.log_dict(run_id, decision.model_dump(mode="json"), f"{REPORT_DIR}/decision.json")
        client.set_model_version_tag(
            champion.model_name, champion.version.version, LAST_VERDICT_TAG, decision.verdict.value
        )
    except Exception:
        _end_run(client, run_id, "FAILED")
        raise
    _end_run(client, run_id, "FINISHED")
    return ReportOutcome(
        model=champion.model_name,
        version=champion.version.version,
        verdict=decision.verdict.value,
        reason=decision.reason,
        exit_code=decision.exit_code,
        report=report,
        report_run_id=run_id,
    )


def review_champion(
    tracking_uri: str | None,
    workload: Workload,
    build_report: Callable[[ChampionUnderReview, datetime], QualityReport],
    policy: RetrainPolicy,
    distribution: str,
) -> ReportOutcome:
    """Every workload's `report` command: find the champion (none: nothing to do), let the workload build
    its report, then publish it and apply the retrain policy."""
    client = connect(tracking_uri)
    names = tracking_names(workload)
    champion = champion_under_review(client, names)
    if champion is None:
        return no_champion(names.registered_model)
    now = datetime.now(UTC)
    report = build_report(champion, now)
    context = collect_run_context(report.data_version, distribution)
    return conclude_report(client, champion, report, policy, context, now)
