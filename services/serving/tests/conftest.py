"""Shared fixtures: one real MLflow server per session (webhooks enabled), real models, real HTTP."""

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from mlflow.tracking import MlflowClient
from utils.server import RunningServer

from mlops_core.testing import MlflowServer
from mlops_core.tracking import connect
from serving.testing.models import TabularModel, log_booster, log_cnn, register_champion, train_booster

# The tracking server inherits these: no background job runner (not needed, costly on 2 cores), and
# webhook deliveries to this loopback test server allowed over http with a short subscription cache.
_SERVER_ENV = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLOPS_LOG_FORMAT", "console")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """Overrides mlops-core's fixture only to give the server process the environment above."""
    saved = {key: os.environ.get(key) for key in _SERVER_ENV}
    os.environ.update(_SERVER_ENV)
    try:
        server = MlflowServer(tmp_path_factory.mktemp("mlflow")).__enter__()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        yield server
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def client(mlflow_server: MlflowServer) -> MlflowClient:
    return connect(mlflow_server.uri)


@dataclass(frozen=True)
class Champions:
    """Version 1 of each platform model, promoted to champion."""

    power: TabularModel
    tick: TabularModel
    mnist_uri: str
    cifar_uri: str


@pytest.fixture(scope="session")
def champions(client: MlflowClient) -> Champions:
    power, tick = train_booster("regression", seed=0), train_booster("binary", seed=1)
    found = Champions(power, tick, log_cnn(client, 1, 28), log_cnn(client, 3, 32))
    register_champion(client, "power_lgbm", log_booster(client, power))
    register_champion(client, "tick_model", log_booster(client, tick))
    register_champion(client, "mnist_cnn", found.mnist_uri)
    register_champion(client, "cifar10_cnn", found.cifar_uri)
    return found


PLATFORM_MODELS = ["power_lgbm", "tick_model", "mnist_cnn", "cifar10_cnn"]


@pytest.fixture(scope="session")
def server(client: MlflowClient, champions: Champions) -> Iterator[RunningServer]:
    """All four platform models, small limits so hostile bodies stay cheap to build."""
    with RunningServer(
        client, models=PLATFORM_MODELS, max_body_bytes=512 * 1024, max_rows=64, poll_interval_s=30
    ) as running:
        running.wait_ready()
        yield running
