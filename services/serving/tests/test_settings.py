"""Settings from SERVING_* environment variables."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from serving.settings import DEFAULT_MODELS, ServingSettings


def test_defaults_serve_the_four_platform_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVING_MODELS", raising=False)
    settings = ServingSettings()
    assert settings.models == DEFAULT_MODELS == ["power_lgbm", "tick_model", "mnist_cnn", "cifar10_cnn"]
    assert settings.request_log_dir is None and settings.request_log_sample_rate == 0.0


def test_environment_configures_everything(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SERVING_MODELS", "power_lgbm, mnist_cnn")
    monkeypatch.setenv("SERVING_MAX_BATCH_SIZE", "32")
    monkeypatch.setenv("SERVING_MAX_WAIT_MS", "0.5")
    monkeypatch.setenv("SERVING_REQUEST_LOG_DIR", str(tmp_path))
    monkeypatch.setenv("SERVING_REQUEST_LOG_SAMPLE_RATE", "0.1")
    settings = ServingSettings()
    assert settings.models == ["power_lgbm", "mnist_cnn"]
    assert (settings.max_batch_size, settings.max_wait_ms) == (32, 0.5)
    assert (settings.request_log_dir, settings.request_log_sample_rate) == (tmp_path, 0.1)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SERVING_MODELS", "a,a"),
        ("SERVING_MODELS", " , "),
        ("SERVING_REQUEST_LOG_SAMPLE_RATE", "1.5"),
        ("SERVING_PORT", "0"),
        ("SERVING_MAX_WAIT_MS", "-1"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("SERVING_").lower()):
        ServingSettings()


def test_shadowing_is_off_by_default_and_only_for_served_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVING_MODELS", "power_lgbm,tick_model")
    assert ServingSettings().shadow_models == []
    monkeypatch.setenv("SERVING_SHADOW_MODELS", "tick_model")
    assert ServingSettings().shadow_models == ["tick_model"]
    monkeypatch.setenv("SERVING_SHADOW_MODELS", "tick_model,mnist_cnn")
    with pytest.raises(
        ValidationError, match=r"shadow_models \['mnist_cnn'\] are not among the served models"
    ):
        ServingSettings()
