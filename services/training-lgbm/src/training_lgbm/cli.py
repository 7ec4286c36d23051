"""`train-lgbm`: one container entrypoint. `train-lgbm <workload>` trains; `validate`/`generate` help."""

import typer

from training_lgbm.power import cli as power_cli
from training_lgbm.power import report as power_report
from training_lgbm.tick import cli as tick_cli
from training_lgbm.tick import report as tick_report

app = typer.Typer(help="LightGBM training workloads.", no_args_is_help=True)
validate_app = typer.Typer(
    help="Validate a workload's input data (exit 3 when malformed).", no_args_is_help=True
)
generate_app = typer.Typer(
    help="Write sample data in the workload's real input format.", no_args_is_help=True
)
app.add_typer(validate_app, name="validate")
app.add_typer(generate_app, name="generate")
report_app = typer.Typer(
    help="Nightly quality report of a workload's champion: exit 0 = retrain requested, 20 = not.",
    no_args_is_help=True,
)
app.add_typer(report_app, name="report")
report_app.command("power")(power_report.report)
report_app.command("tick")(tick_report.report)

app.command("power")(power_cli.train)
validate_app.command("power")(power_cli.validate)
generate_app.command("power")(power_cli.generate)
app.command("tick")(tick_cli.train)
validate_app.command("tick")(tick_cli.validate)
