"""Prometheus metrics, one registry per app: requests, latency, batch sizes, by model/version/status."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Names that are not served are reported under one label value, so hostile paths can't grow series.
UNKNOWN_MODEL = "_unknown"
NO_VERSION = "none"

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_REQUEST = ("model", "version", "status")
_VERSION = ("model", "version")
_PAIR = ("model", "champion_version", "challenger_version")
_DIFF_BUCKETS = (0.0, 1e-9, 1e-6, 1e-4, 1e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0)


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("serving_requests", "Prediction requests answered.", _REQUEST, registry=r)
        self.latency = Histogram(
            "serving_request_latency_seconds",
            "Prediction request latency, arrival to response.",
            _REQUEST,
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.rows = Counter(
            "serving_predicted_rows", "Rows (records or images) predicted.", _VERSION, registry=r
        )
        self.batch_size = Histogram(
            "serving_batch_size_rows", "Rows per model call (micro-batch).", _VERSION, buckets=_BATCH_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.served_version = Gauge(
            "serving_model_info",
            "1 for the version being served.",
            ("model", "version", "run_id"),
            registry=r,
        )
        self.ready = Gauge(
            "serving_model_ready", "1 when the model has a version loaded.", ("model",), registry=r
        )
        self.loads = Counter(
            "serving_model_loads", "Version loads by outcome.", ("model", "version", "outcome"), registry=r
        )
        self.registry_errors = Counter(
            "serving_registry_errors", "Failed registry look-ups (serving goes on).", ("model",), registry=r
        )
        self.samples = Counter(
            "serving_request_samples",
            "Sampled requests: 'sampled', or 'dropped' when the writer falls behind.",
            ("model", "outcome"),
            registry=r,
        )

        self.shadow_requests = Counter(
            "serving_shadow_requests",
            "Requests mirrored to the challenger by outcome: 'answered', 'error', 'dropped' (queue full).",
            (*_PAIR, "outcome"),
            registry=r,
        )
        self.shadow_rows = Counter(
            "serving_shadow_rows",
            "Mirrored rows of classifiers, by whether the challenger chose the champion's class.",
            (*_PAIR, "agreement"),
            registry=r,
        )
        self.shadow_abs_diff = Histogram(
            "serving_shadow_abs_diff",
            "|challenger - champion| per mirrored row (regression value, or the binary probability).",
            _PAIR,
            buckets=_DIFF_BUCKETS,
            registry=r,
        )
        self.shadow_latency = Histogram(
            "serving_shadow_latency_seconds",
            "Challenger model-call latency on mirrored requests.",
            _PAIR,
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def observe_request(self, model: str, version: str, status: int, seconds: float) -> None:
        code = str(status)
        self.requests.labels(model, version, code).inc()
        self.latency.labels(model, version, code).observe(seconds)

    def observe_batch(self, model: str, version: str, rows: int) -> None:
        self.batch_size.labels(model, version).observe(rows)
        self.rows.labels(model, version).inc(rows)

    def mark_served(self, model: str, served: tuple[str, str], replaced: tuple[str, str] | None) -> None:
        """`served`/`replaced` are (version, run_id) label pairs."""
        if replaced is not None and replaced != served:
            self.served_version.remove(model, *replaced)
        self.served_version.labels(model, *served).set(1)
        self.ready.labels(model).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
