"""`mlops`: release steps shared by every training image (gate, register, promote, show)."""

import json
from typing import Annotated

import typer

from mlops_core.cli_management import hygiene
from mlops_core.cli_options import TrackingUriOpt, fail
from mlops_core.errors import MlopsError
from mlops_core.logs import configure_logging
from mlops_core.naming import CHALLENGER, CHAMPION, Workload, tracking_names
from mlops_core.registry import promote, version_for_alias
from mlops_core.release import evaluate_gate, release
from mlops_core.shadow import SERVING_URL_ENV, SUMMARY_TAG, evidence_tags
from mlops_core.tracking import connect, find_completed_run

app = typer.Typer(help="Release gate, registration and promotion for platform models.", no_args_is_help=True)

WorkloadOpt = Annotated[Workload, typer.Option(help="Workload whose experiment and model to use.")]
RunKeyOpt = Annotated[str, typer.Option(help="Run key the training run was started with.")]


@app.callback()
def _main() -> None:
    configure_logging()


@app.command()
def gate(workload: WorkloadOpt, run_key: RunKeyOpt, tracking_uri: TrackingUriOpt = None) -> None:
    """Decide whether the run's model may be registered; exit 10/11/12 when refused."""
    client = connect(tracking_uri)
    names = tracking_names(workload)
    try:
        decision = evaluate_gate(client, names, find_completed_run(client, names, run_key).info.run_id)
    except MlopsError as exc:
        raise fail(exc) from exc
    typer.echo(f"gate {decision.verdict.value}: {decision.reason}")
    raise typer.Exit(int(decision.exit_code))


@app.command()
def register(workload: WorkloadOpt, run_key: RunKeyOpt, tracking_uri: TrackingUriOpt = None) -> None:
    """Re-check the gate and register the run's model as `challenger` (never twice for one run)."""
    client = connect(tracking_uri)
    names = tracking_names(workload)
    try:
        outcome = release(client, names, find_completed_run(client, names, run_key).info.run_id)
    except MlopsError as exc:
        raise fail(exc) from exc
    if outcome.version is None:
        typer.echo(f"not registered: {outcome.decision.reason}")
        raise typer.Exit(int(outcome.decision.exit_code))
    state = "registered" if outcome.newly_registered else "already registered"
    typer.echo(f"{state} {names.registered_model} v{outcome.version.version} as {CHALLENGER}")


@app.command("promote")
def promote_cmd(
    workload: WorkloadOpt,
    version: Annotated[
        str, typer.Option(help=f"Version number, or '{CHALLENGER}' for the current challenger.")
    ],
    by: Annotated[str, typer.Option("--by", help="Who approves the promotion.")],
    reason: Annotated[str, typer.Option(help="Why this version becomes champion.")],
    tracking_uri: TrackingUriOpt = None,
    shadow_summary: Annotated[
        str | None, typer.Option(help="The shadow-traffic summary (JSON) the approver was shown.")
    ] = None,
    serving_url: Annotated[
        str | None,
        typer.Option(envvar=SERVING_URL_ENV, help="Serving to read the shadow-traffic summary from."),
    ] = None,
) -> None:
    """Move the `champion` alias to a version, recording who and why (and its shadow traffic)."""
    client = connect(tracking_uri)
    model = tracking_names(workload).registered_model
    try:
        if version == CHALLENGER:
            challenger = version_for_alias(client, model, CHALLENGER)
            if challenger is None:
                raise MlopsError(f"{model} has no {CHALLENGER} to promote")
            version = challenger.version
        evidence = evidence_tags(model, str(version), shadow_summary, serving_url)
        done = promote(client, model, version, actor=by, reason=reason, evidence=evidence)
    except MlopsError as exc:
        raise fail(exc) from exc
    typer.echo(f"{model}@{CHAMPION} -> v{done.version} (was v{done.previous_champion or 'none'})")
    if evidence:
        typer.echo(f"shadow traffic: {evidence.get(SUMMARY_TAG, '')[:200]}")


@app.command()
def show(workload: WorkloadOpt, tracking_uri: TrackingUriOpt = None) -> None:
    """Print the champion and challenger versions as JSON."""
    client = connect(tracking_uri)
    model = tracking_names(workload).registered_model
    out = {}
    for alias in (CHAMPION, CHALLENGER):
        found = version_for_alias(client, model, alias)
        out[alias] = None if found is None else {"version": found.version, "run_id": found.run_id}
    typer.echo(json.dumps({"model": model, **out}))


app.command("hygiene")(hygiene)

if __name__ == "__main__":  # pragma: no cover
    app()
