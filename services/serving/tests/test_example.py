"""`mlops-serve-example` prints a working curl per model and the server's answer."""

import shlex
import subprocess

from typer.testing import CliRunner
from utils.server import RunningServer

from mlops_core.logs import configure_logging
from serving import example


def test_prints_a_curl_per_model_that_really_works(server: RunningServer) -> None:
    try:
        result = CliRunner().invoke(example.app, ["--url", server.url, "--wait-s", "5"])
    finally:
        configure_logging()

    assert result.exit_code == 0, result.output
    curls = [line for line in result.output.splitlines() if line.startswith("curl ")]
    assert len(curls) == 4
    assert result.output.count("# -> HTTP 200") == 4
    power = next(c for c in curls if "power_lgbm:predict" in c)
    answer = subprocess.run(shlex.split(power), capture_output=True, text=True, timeout=30, check=True)
    assert '"model":"power_lgbm"' in answer.stdout and '"predictions":[' in answer.stdout


def test_fails_when_nothing_is_served() -> None:
    result = CliRunner().invoke(example.app, ["--url", "http://127.0.0.1:9", "--wait-s", "0"])
    assert result.exit_code == 1
    assert "cannot reach serving" in result.output
