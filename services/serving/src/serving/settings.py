"""Every serving knob in one place: environment variables prefixed `SERVING_`, overridable by the CLI."""

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mlops_core.naming import Workload, tracking_names

DEFAULT_MODELS = [
    tracking_names(workload).registered_model
    for workload in (Workload.POWER, Workload.TICK, Workload.MNIST, Workload.CIFAR10)
]


class ServingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SERVING_", extra="forbid")

    models: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_MODELS),
        min_length=1,
        description="registered model names to serve (their `champion` version); comma-separated in env",
    )
    host: str = "0.0.0.0"
    port: int = Field(8080, ge=1, le=65535)
    poll_interval_s: float = Field(
        15.0, gt=0, description="how often the registry is checked for alias moves"
    )
    max_batch_size: int = Field(64, ge=1, le=4096, description="rows per micro-batch (model call)")
    max_wait_ms: float = Field(
        0.0,
        ge=0,
        le=1000,
        description="how long a batch's first request waits for company; 0 still batches what queued up "
        "while the previous model call ran (measured best for these CPU models)",
    )
    max_rows: int = Field(256, ge=1, description="rows (records or images) allowed in one request")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="larger request bodies get 413")
    inference_threads: int = Field(1, ge=1, le=64, description="threads per model call (ONNX / LightGBM)")
    workers: int = Field(
        1, ge=1, le=64, description="server processes; each loads every model and follows the registry itself"
    )
    request_log_dir: Path | None = Field(None, description="where sampled requests are written (JSON lines)")
    request_log_sample_rate: float = Field(0.0, ge=0.0, le=1.0, description="fraction of requests logged")
    request_log_images: bool = Field(False, description="also log raw image pixels (off: statistics only)")
    load_retry_s: float = Field(300.0, ge=0, description="wait before retrying a version that failed to load")
    webhook_secret: str | None = Field(
        None, description="MLflow webhook secret; when set, deliveries without a valid signature are refused"
    )
    shadow_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="models whose `challenger` is loaded beside the champion and sent a sample of live "
        "requests off the request path (comma-separated in env; none by default)",
    )
    shadow_sample_rate: float = Field(0.1, ge=0.0, le=1.0, description="fraction of requests mirrored")
    shadow_queue_limit: int = Field(
        64, ge=1, description="mirrored requests waiting for the challenger; more are dropped and counted"
    )
    graceful_shutdown_s: float = Field(30.0, ge=0, description="how long shutdown waits for in-flight work")
    drain_s: float = Field(
        0.0,
        ge=0,
        le=300,
        description="on SIGTERM, keep serving this long with 'Connection: close' on every response (and "
        "/readyz at 503) before shutting down, so keep-alive clients reconnect to other replicas",
    )
    download_dir: Path | None = Field(None, description="scratch space for model downloads (system temp dir)")

    @field_validator("models", "shadow_models", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("models")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"model names must be unique: {value}")
        return value

    @model_validator(mode="after")
    def _shadowed_are_served(self) -> "ServingSettings":
        unknown = sorted(set(self.shadow_models) - set(self.models))
        if unknown:
            raise ValueError(f"shadow_models {unknown} are not among the served models {self.models}")
        return self
