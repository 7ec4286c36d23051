"""Run a Typer command in-process the way the DAG reads it: exit code, and the summary on stdout."""

from typer.testing import CliRunner

from mlops_core.exit_codes import ExitCode
from mlops_core.logs import configure_logging

_runner = CliRunner()
# Exit codes after which stdout alone is the command's answer (its last line is the summary).
_SUMMARY_CODES = (ExitCode.OK, ExitCode.NO_RETRAIN)


def invoke(cli: object, args: list[str]) -> tuple[int, str]:
    """Exit code and stdout (stdout and stderr on any other exit, so errors show); exceptions re-raised."""
    result = _runner.invoke(cli, args)  # type: ignore[arg-type]
    configure_logging()  # the command bound logging to the runner's (now closed) stream
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout if result.exit_code in _SUMMARY_CODES else result.output
