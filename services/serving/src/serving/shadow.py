"""Shadowing the challenger: a sample of live requests, answered by the champion, is replayed to it.

The request path only decides whether to mirror and puts a job on a bounded queue (never waiting); one
worker per model runs the challenger on its own thread and compares its answer with the champion's.
A slow challenger fills the queue and further jobs are dropped (counted); one that raises is counted.
Per (champion version, challenger version) pair it keeps: requests answered, errors, drops,
agreement (classifiers: same class; regression and binary: |Δ| distribution) and challenger latency.
"""

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from mlops_core.logs import get_logger
from serving.loading import ServedModel
from serving.metrics import ServingMetrics
from serving.runtimes import Task

log = get_logger(__name__)

_KEPT = 10_000  # recent values kept per pair for the quantiles
_PAIRS_KEPT = 8
Redecode = Callable[[ServedModel], np.ndarray]  # the request decoded for another model's contract


@dataclass
class PairStats:
    champion_version: str
    challenger_version: str
    task: Task
    since: datetime = field(default_factory=lambda: datetime.now(UTC))
    answered: int = 0
    errors: int = 0
    dropped: int = 0
    rows: int = 0
    same_class_rows: int = 0
    last_error: str | None = None
    abs_diffs: deque[float] = field(default_factory=lambda: deque(maxlen=_KEPT))
    latencies_s: deque[float] = field(default_factory=lambda: deque(maxlen=_KEPT))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "champion_version": self.champion_version,
            "challenger_version": self.challenger_version,
            "since": self.since.isoformat(timespec="seconds"),
            "mirrored": self.answered + self.errors,
            "answered": self.answered,
            "errors": self.errors,
            "dropped": self.dropped,
            "rows": self.rows,
            "last_error": self.last_error,
            "challenger_latency_ms": _quantiles(np.asarray(self.latencies_s) * 1000.0),
        }
        agreement: dict[str, Any] = {"task": self.task.value}
        if self.task is not Task.REGRESSION:
            agreement["same_class_rate"] = round(self.same_class_rows / self.rows, 6) if self.rows else None
        if self.task is not Task.MULTICLASS:
            agreement["abs_diff"] = _quantiles(np.asarray(self.abs_diffs))
        out["agreement"] = agreement
        return out


def _quantiles(values: np.ndarray) -> dict[str, float] | None:
    if values.size == 0:
        return None
    p50, p90, p99 = np.percentile(values, [50, 90, 99]).tolist()
    return {
        "mean": round(float(values.mean()), 9),
        "p50": round(p50, 9),
        "p90": round(p90, 9),
        "p99": round(p99, 9),
        "max": round(float(values.max()), 9),
    }


def _compare(task: Task, champion: np.ndarray, challenger: np.ndarray) -> tuple[np.ndarray | None, int]:
    """|Δ| per row (None for multiclass) and how many rows got the same class (0 for regression)."""
    if challenger.shape != champion.shape:
        raise ValueError(f"challenger outputs have shape {challenger.shape}, the champion's {champion.shape}")
    if task is Task.REGRESSION:
        return np.abs(challenger - champion), 0
    if task is Task.BINARY:
        return np.abs(challenger - champion), int(((challenger >= 0.5) == (champion >= 0.5)).sum())
    return None, int((challenger.argmax(axis=1) == champion.argmax(axis=1)).sum())


@dataclass(frozen=True)
class _Job:
    champion: ServedModel
    inputs: np.ndarray
    redecode: Redecode
    champion_outputs: np.ndarray


class Shadow:
    """One model's challenger beside its champion, and what mirroring to it has shown so far."""

    def __init__(self, name: str, sample_rate: float, queue_limit: int, metrics: ServingMetrics) -> None:
        self.name = name
        self.sample_rate = sample_rate
        self.challenger: ServedModel | None = None  # replaced whole, like the champion
        self.challenger_version: str | None = None  # what the registry's alias says
        self._metrics = metrics
        self._random = random.Random()
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=queue_limit)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"shadow-{name}")
        self._worker: asyncio.Task[None] | None = None
        self._pairs: dict[tuple[str, str], PairStats] = {}

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run(), name=f"shadow-{self.name}")

    async def stop(self) -> None:
        """Stop at once: mirrored requests still queued are not worth delaying shutdown for."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        self._executor.shutdown(wait=False, cancel_futures=True)

    def mirror(
        self, champion: ServedModel, inputs: np.ndarray, outputs: np.ndarray, redecode: Redecode
    ) -> None:
        """Maybe queue this answered request for the challenger; never waits, never raises."""
        challenger = self.challenger
        if challenger is None or challenger.version == champion.version:
            return
        if self.sample_rate < 1.0 and self._random.random() >= self.sample_rate:
            return
        try:
            self._queue.put_nowait(_Job(champion, inputs, redecode, outputs))
        except asyncio.QueueFull:
            pair = self._pair(champion, challenger)
            pair.dropped += 1
            self._metrics.shadow_requests.labels(self.name, *self._labels(pair), "dropped").inc()

    def summary(self) -> dict[str, Any]:
        challenger = self.challenger
        return {
            "challenger": None
            if challenger is None
            else {"version": challenger.version, "run_id": challenger.run_id, "loaded_at": challenger.loaded_at.isoformat(timespec="seconds")},
            "challenger_alias_version": self.challenger_version,
            "sample_rate": self.sample_rate,
            "pairs": [pair.summary() for pair in reversed(self._pairs.values())],
        }  # fmt: skip

    @staticmethod
    def _labels(pair: PairStats) -> tuple[str, str]:
        return pair.champion_version, pair.challenger_version

    def _pair(self, champion: ServedModel, challenger: ServedModel) -> PairStats:
        key = (champion.version, challenger.version)
        pair = self._pairs.get(key)
        if pair is None:
            pair = self._pairs[key] = PairStats(champion.version, challenger.version, champion.predictor.task)
            while len(self._pairs) > _PAIRS_KEPT:
                self._pairs.pop(next(iter(self._pairs)))
        return pair

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            job = await self._queue.get()
            challenger = self.challenger
            if challenger is None or challenger.version == job.champion.version:
                continue
            pair = self._pair(job.champion, challenger)
            labels = (self.name, *self._labels(pair))
            try:
                outputs, seconds = await loop.run_in_executor(self._executor, _call, challenger, job)
                diffs, same = _compare(pair.task, job.champion_outputs, outputs)
            except Exception as exc:  # whatever the challenger does, clients never see it
                pair.errors += 1
                pair.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self._metrics.shadow_requests.labels(*labels, "error").inc()
                log.warning("shadow prediction failed", model=self.name, challenger=challenger.version, error=pair.last_error)  # fmt: skip
                continue
            rows = len(job.champion_outputs)
            pair.answered += 1
            pair.rows += rows
            pair.latencies_s.append(seconds)
            self._metrics.shadow_requests.labels(*labels, "answered").inc()
            self._metrics.shadow_latency.labels(*labels).observe(seconds)
            if pair.task is not Task.REGRESSION:
                pair.same_class_rows += same
                self._metrics.shadow_rows.labels(*labels, "same").inc(same)
                self._metrics.shadow_rows.labels(*labels, "different").inc(rows - same)
            if diffs is not None:
                pair.abs_diffs.extend(diffs.tolist())
                for diff in diffs.tolist():
                    self._metrics.shadow_abs_diff.labels(*labels).observe(diff)


def _call(challenger: ServedModel, job: _Job) -> tuple[np.ndarray, float]:
    """On the shadow thread: the request in the challenger's contract, then one timed model call."""
    if challenger.predictor.task is not job.champion.predictor.task:
        raise ValueError(f"challenger is a {challenger.predictor.task.value} model, the champion a {job.champion.predictor.task.value} one")  # fmt: skip
    same_contract = challenger.decoder.contract == job.champion.decoder.contract
    inputs = job.inputs if same_contract else job.redecode(challenger)
    started = time.perf_counter()
    outputs = np.asarray(challenger.predictor.predict(inputs))
    return outputs, time.perf_counter() - started
