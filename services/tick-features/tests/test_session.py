import json
import os
import subprocess
import sys
from pathlib import Path

import pyspark
import pytest

from tick_features.session import DEFAULT_MASTER, JOB_DEFAULTS, parse_conf_pairs, resolve_session_spec


def test_defaults_to_local_master_with_job_settings() -> None:
    spec = resolve_session_spec(None, [], environ={})
    assert spec.master == DEFAULT_MASTER
    assert spec.conf["spark.sql.session.timeZone"] == "UTC"
    assert spec.conf["spark.sql.sources.partitionOverwriteMode"] == "dynamic"


def test_command_line_beats_environment_beats_defaults() -> None:
    env = {
        "SPARK_MASTER": "k8s://https://kubernetes.default.svc:443",
        "SPARK_DRIVER_MEMORY": "3g",
        "SPARK_CONF_IMAGE": "spark.kubernetes.container.image=registry.local/tick-features:abc",
        "SPARK_CONF_PARTITIONS": "spark.sql.shuffle.partitions=64",
    }
    spec = resolve_session_spec(None, ["spark.sql.shuffle.partitions=16"], environ=env)
    assert spec.master == "k8s://https://kubernetes.default.svc:443"
    assert spec.conf["spark.driver.memory"] == "3g"
    assert spec.conf["spark.kubernetes.container.image"] == "registry.local/tick-features:abc"
    assert spec.conf["spark.sql.shuffle.partitions"] == "16"
    assert resolve_session_spec("local[1]", [], environ=env).master == "local[1]"


def test_spark_master_given_as_conf_is_used() -> None:
    spec = resolve_session_spec(None, ["spark.master=k8s://https://api:6443"], environ={})
    assert spec.master == "k8s://https://api:6443"
    assert "spark.master" not in spec.conf


def test_under_spark_submit_the_master_is_left_to_spark_submit() -> None:
    assert resolve_session_spec(None, [], environ={"PYSPARK_GATEWAY_PORT": "40000"}).master is None


def test_conf_values_may_contain_equals_signs() -> None:
    assert parse_conf_pairs(["spark.driver.extraJavaOptions=-Da=b"]) == {
        "spark.driver.extraJavaOptions": "-Da=b"
    }


@pytest.mark.parametrize("bad", ["no-equals", "=value"])
def test_malformed_conf_pairs_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="key=value"):
        parse_conf_pairs([bad])


def test_malformed_env_conf_names_the_variable() -> None:
    with pytest.raises(ValueError, match="SPARK_CONF_BROKEN"):
        resolve_session_spec(None, [], environ={"SPARK_CONF_BROKEN": "oops"})


def test_job_defaults_are_not_mutated() -> None:
    before = dict(JOB_DEFAULTS)
    resolve_session_spec(None, ["spark.sql.shuffle.partitions=1"], environ={})
    assert before == JOB_DEFAULTS


def test_sparks_own_conf_dir_variable_is_not_a_setting() -> None:
    # spark-submit's driver pod sets SPARK_CONF_DIR=/opt/spark/conf beside any SPARK_CONF_<NAME> settings.
    env = {"SPARK_CONF_DIR": "/opt/spark/conf", "SPARK_CONF_IMAGE": "spark.kubernetes.container.image=x"}
    spec = resolve_session_spec(None, [], environ=env)
    assert spec.conf["spark.kubernetes.container.image"] == "x"
    assert "/opt/spark/conf" not in spec.conf.values()


SUBMITTED_JOB = """
import json, sys
from tick_features.session import resolve_session_spec, start_session
session = start_session(resolve_session_spec(None, sys.argv[1:]))
keys = ["spark.sql.shuffle.partitions", "spark.sql.adaptive.enabled", "spark.sql.session.timeZone"]
print("SETTINGS " + json.dumps({key: session.conf.get(key) for key in keys}))
session.stop()
"""


def test_under_spark_submit_its_settings_beat_the_job_defaults(tmp_path: Path) -> None:
    """A real spark-submit (as in the spark-operator's driver pod): what it was given wins over the job's
    defaults, the job's own command line wins over it, and defaults fill in the rest."""
    job = tmp_path / "job.py"
    job.write_text(SUBMITTED_JOB)
    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    done = subprocess.run(
        [str(spark_submit), "--master", "local[1]",
         "--conf", "spark.sql.shuffle.partitions=16", "--conf", "spark.sql.adaptive.enabled=true",
         str(job), "spark.sql.adaptive.enabled=false"],
        env={**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("SETTINGS ")]
    assert json.loads(line.removeprefix("SETTINGS ")) == {
        "spark.sql.shuffle.partitions": "16",  # spark-submit's, not the default 8
        "spark.sql.adaptive.enabled": "false",  # the job's command line
        "spark.sql.session.timeZone": "UTC",  # a default spark-submit left unset
    }
