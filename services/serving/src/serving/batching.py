"""Micro-batching: concurrent requests for one model share a single model call.

Requests queue their rows; one worker per model takes the first, lets it wait `max_wait` for company
(0: no waiting), takes what has queued up to `max_rows` rows, runs the model once on a dedicated
thread, and hands every request its slice. While a batch runs, the next one fills up, so batches grow
with load by themselves even without waiting.
Each request carries the exact model version it was decoded for, so a swap never mixes versions.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from mlops_core.logs import get_logger
from serving.loading import ServedModel

log = get_logger(__name__)

BatchObserver = Callable[[ServedModel, int], None]


@dataclass
class _Pending:
    model: ServedModel
    inputs: np.ndarray
    result: asyncio.Future[np.ndarray] = field(repr=False)


class MicroBatcher:
    def __init__(self, name: str, max_rows: int, max_wait_s: float, on_batch: BatchObserver) -> None:
        self.name = name
        self._max_rows = max_rows
        self._max_wait_s = max_wait_s
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()  # None: stop after what is queued
        self._carry: _Pending | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"predict-{name}")
        self._worker: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run(), name=f"batcher-{self.name}")

    async def submit(self, model: ServedModel, inputs: np.ndarray) -> np.ndarray:
        """The model's outputs for `inputs`, computed in a batch with whatever else is queued."""
        pending = _Pending(model, inputs, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(pending)
        return await pending.result

    async def stop(self) -> None:
        """Finish everything already queued, then stop the worker and its thread."""
        if self._worker is not None:
            self._queue.put_nowait(None)
            await self._worker
            self._worker = None
        self._executor.shutdown(wait=True)

    async def _next(self) -> _Pending | None:
        if self._carry is not None:
            pending, self._carry = self._carry, None
            return pending
        return await self._queue.get()

    async def _collect(self) -> list[_Pending]:
        first = await self._next()
        if first is None:
            self._stopping = True
            return []
        batch, rows = [first], len(first.inputs)
        if self._max_wait_s > 0 and rows < self._max_rows and self._queue.qsize() < self._max_rows:
            await asyncio.sleep(self._max_wait_s)  # one timer per batch, not one per queued request
        while rows < self._max_rows:
            try:
                pending = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if pending is None:
                self._stopping = True
                break
            if rows + len(pending.inputs) > self._max_rows:
                self._carry = pending  # a request's rows are never split; it leads the next batch
                break
            batch.append(pending)
            rows += len(pending.inputs)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            batch = [p for p in await self._collect() if not p.result.done()]
            # A swap may land mid-queue: each version's requests run on that version.
            by_model: dict[int, list[_Pending]] = {}
            for pending in batch:
                by_model.setdefault(id(pending.model), []).append(pending)
            for group in by_model.values():
                await self._execute(loop, group)

    async def _execute(self, loop: asyncio.AbstractEventLoop, group: list[_Pending]) -> None:
        model = group[0].model
        rows = sum(len(p.inputs) for p in group)
        try:
            inputs = group[0].inputs if len(group) == 1 else np.concatenate([p.inputs for p in group])
            outputs = await loop.run_in_executor(self._executor, model.predictor.predict, inputs)
            if len(outputs) != rows:
                raise RuntimeError(f"model returned {len(outputs)} rows for {rows} inputs")
        except Exception as exc:
            log.error("batch prediction failed", model=model.name, version=model.version, error=str(exc))
            for pending in group:
                if not pending.result.done():
                    pending.result.set_exception(exc)
            return
        self._on_batch(model, rows)
        start = 0
        for pending in group:
            end = start + len(pending.inputs)
            if not pending.result.done():
                pending.result.set_result(outputs[start:end])
            start = end
