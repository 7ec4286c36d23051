"""The SparkSession for the rollup: local by default; Kubernetes through `--master k8s://...` or spark-submit.

Settings, later ones winning:
1. the job's defaults (UTC session time zone, dynamic partition overwrite, µs Parquet timestamps);
2. environment: `SPARK_MASTER`, `SPARK_DRIVER_MEMORY`, and any `SPARK_CONF_<NAME>="<key>=<value>"`
   (how Kubernetes manifests pass Spark settings, e.g.
   `SPARK_CONF_IMAGE=spark.kubernetes.container.image=...`);
3. the command line: `--master` and repeated `--conf key=value`.

Under spark-submit (the spark-operator's driver pod) the master comes from spark-submit and is left alone
unless given explicitly, and so does every setting spark-submit was given (the SparkApplication's
`sparkConf`): the job's defaults fill in only what it left unset.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"
ENV_MASTER = "SPARK_MASTER"
ENV_DRIVER_MEMORY = "SPARK_DRIVER_MEMORY"
ENV_CONF_PREFIX = "SPARK_CONF_"
# Spark's own variables that share the prefix (spark-submit's driver pod sets SPARK_CONF_DIR).
SPARK_OWN_ENV = frozenset({"SPARK_CONF_DIR"})
_UNDER_SPARK_SUBMIT = "PYSPARK_GATEWAY_PORT"  # set when spark-submit started this Python process

JOB_DEFAULTS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    # The classified ticks are cached for two writes within one job; compressing that short-lived cache
    # cost more CPU than it saved (warm rollup 10M ticks: 18.9 s -> 14.6 s; bench/bench_tick_rollup.py).
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "2g",
}


def parse_conf_pairs(pairs: list[str]) -> dict[str, str]:
    """`["k=v", ...]` -> dict; a pair without '=' or with an empty key is a usage error."""
    conf: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--conf expects key=value, got {pair!r}")
        conf[key.strip()] = value
    return conf


def conf_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    conf: dict[str, str] = {}
    if memory := environ.get(ENV_DRIVER_MEMORY):
        conf["spark.driver.memory"] = memory
    for name in sorted(environ):
        if name.startswith(ENV_CONF_PREFIX) and name not in SPARK_OWN_ENV:
            try:
                conf.update(parse_conf_pairs([environ[name]]))
            except ValueError as exc:
                raise ValueError(f"environment variable {name}: {exc}") from exc
    return conf


@dataclass(frozen=True)
class SessionSpec:
    master: str | None
    conf: dict[str, str] = field(default_factory=dict)
    explicit: frozenset[str] = frozenset()  # keys of `conf` given by the environment or command line


def resolve_session_spec(
    master: str | None, conf_pairs: list[str], environ: Mapping[str, str] | None = None
) -> SessionSpec:
    env = os.environ if environ is None else environ
    given = {**conf_from_env(env), **parse_conf_pairs(conf_pairs)}
    conf = {**JOB_DEFAULTS, **given}
    chosen = master or env.get(ENV_MASTER) or conf.pop("spark.master", None)
    if chosen is None and _UNDER_SPARK_SUBMIT not in env:
        chosen = DEFAULT_MASTER
    return SessionSpec(master=chosen, conf=conf, explicit=frozenset(given) - {"spark.master"})


def _spark_submit_settings() -> set[str]:
    """The keys spark-submit set: its JVM holds them as system properties, which a SparkConf made on
    that JVM loads (PySpark's own builder connects to the JVM the same way)."""
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()
    return {key for key, _ in SparkConf().getAll()}


def start_session(spec: SessionSpec, app_name: str = "tick-features-rollup") -> SparkSession:
    builder = SparkSession.builder.appName(app_name)
    if spec.master:
        builder = builder.master(spec.master)
    submitted = _spark_submit_settings() if spec.master is None else set()
    for key, value in spec.conf.items():
        if key in spec.explicit or key not in submitted:
            builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(os.environ.get("SPARK_LOG_LEVEL", "WARN"))
    return session
