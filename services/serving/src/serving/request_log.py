"""Served-traffic feedback: a sample of requests (features and predictions) as JSON lines.

Layout: `<dir>/<model>/date=YYYY-MM-DD/part-<host>-<pid>.jsonl`, one record per sampled request
(schema in the service README). Images are summarised (pixel statistics) unless raw logging is on.
Writing happens on a background thread; when it falls behind, records are dropped and counted.
"""

import os
import queue
import random
import socket
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from mlops_core.logs import get_logger
from serving.decoding import DecodedRequest
from serving.loading import ServedModel
from serving.metrics import ServingMetrics

log = get_logger(__name__)

_QUEUE_LIMIT = 10_000
_STOP = object()


def image_statistics(inputs: np.ndarray) -> list[dict[str, Any]]:
    """Per-image pixel statistics on the 0..255 scale (inputs are N×C×H×W in [0, 1])."""
    flat = inputs.reshape(len(inputs), -1) * 255.0
    return [
        {
            "mean": round(float(m), 3),
            "std": round(float(s), 3),
            "min": round(float(lo), 3),
            "max": round(float(hi), 3),
        }
        for m, s, lo, hi in zip(flat.mean(1), flat.std(1), flat.min(1), flat.max(1), strict=True)
    ]


class RequestSampler:
    def __init__(self, directory: Path, rate: float, log_images: bool, metrics: ServingMetrics) -> None:
        self.directory = directory
        self.rate = rate
        self.log_images = log_images
        self._metrics = metrics
        self._random = random.Random()
        self._part = f"part-{socket.gethostname()}-{os.getpid()}.jsonl"
        self._queue: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._write_forever, name="request-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=10)

    def maybe_record(
        self,
        model: ServedModel,
        decoded: DecodedRequest,
        predictions: list[Any] | Callable[[], list[Any]],
        latency_s: float,
    ) -> None:
        """Queue the request for writing with probability `rate`; `predictions` may be computed on demand."""
        if self._random.random() >= self.rate:
            return
        if callable(predictions):
            predictions = predictions()
        now = datetime.now(UTC)
        record: dict[str, Any] = {
            "ts": now.isoformat(timespec="milliseconds"),
            "request_id": uuid.uuid4().hex,
            "model": model.name,
            "version": model.version,
            "run_id": model.run_id,
            "rows": decoded.rows,
            "latency_ms": round(latency_s * 1000, 3),
            "predictions": predictions,
        }
        if decoded.records is not None:
            record["features"] = decoded.records
        else:
            record["image_stats"] = image_statistics(decoded.inputs)
            if self.log_images:
                pixels = np.rint(decoded.inputs.transpose(0, 2, 3, 1) * 255.0).astype(np.uint8)
                record["images"] = pixels.tolist()
        path = self.directory / model.name / f"date={now:%Y-%m-%d}" / self._part
        try:
            self._queue.put_nowait((path, record))
        except queue.Full:
            self._metrics.samples.labels(model.name, "dropped").inc()
            return
        self._metrics.samples.labels(model.name, "sampled").inc()

    def _write_forever(self) -> None:
        while True:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in items)
            by_path: dict[Path, list[bytes]] = defaultdict(list)
            for item in items:
                if item is not _STOP:
                    path, record = item  # type: ignore[misc]
                    by_path[path].append(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
            for path, lines in by_path.items():
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with path.open("ab") as handle:
                        handle.writelines(lines)
                except OSError as exc:
                    log.error("cannot write request samples", path=str(path), error=str(exc))
            if stop:
                return
