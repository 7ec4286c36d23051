"""Micro-batcher behaviour with a real (tiny) predictor: batching, limits, version grouping, errors."""

import asyncio
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from serving.batching import MicroBatcher, stack_rows


@dataclass
class RecordingPredictor:
    """Doubles its inputs and remembers every call's size; can be told to fail."""

    offset: float = 0.0
    calls: list[int] = field(default_factory=list)
    fail: bool = False
    release: threading.Event | None = None

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        if self.release is not None:
            self.release.wait(5)
        self.calls.append(len(inputs))
        if self.fail:
            raise ValueError("model exploded")
        return inputs[:, 0] * 2 + self.offset


@dataclass(frozen=True)
class FakeServed:
    name: str
    version: str
    predictor: Any


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_concurrent_submissions_share_calls_and_get_their_own_rows() -> None:
    predictor = RecordingPredictor()
    model = FakeServed("m", "1", predictor)
    observed: list[int] = []

    async def scenario() -> list[np.ndarray]:
        batcher = MicroBatcher(
            "m", max_rows=8, max_wait_s=0.05, on_batch=lambda _, rows: observed.append(rows)
        )
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(model, np.array([[float(i)]])) for i in range(20)))
        await batcher.stop()
        return results

    results = _run(scenario())

    assert [r.tolist() for r in results] == [[2.0 * i] for i in range(20)]
    assert predictor.calls == [8, 8, 4]
    assert observed == predictor.calls


def test_a_request_is_never_split_across_batches() -> None:
    predictor = RecordingPredictor()
    model = FakeServed("m", "1", predictor)

    async def scenario() -> list[np.ndarray]:
        batcher = MicroBatcher("m", max_rows=4, max_wait_s=0.05, on_batch=lambda *_: None)
        batcher.start()
        sizes = [3, 3, 2, 5]
        results = await asyncio.gather(*(batcher.submit(model, np.ones((n, 1)) * n) for n in sizes))
        await batcher.stop()
        return results

    results = _run(scenario())

    assert [len(r) for r in results] == [3, 3, 2, 5]
    assert predictor.calls == [3, 3, 2, 5]  # 3+3 > 4 and 2+5 > 4: each waits for the next call
    assert all((r == 2 * len(r)).all() for r in results)


def test_requests_for_different_versions_never_share_a_call() -> None:
    old, new = RecordingPredictor(offset=0.0), RecordingPredictor(offset=100.0)
    v1, v2 = FakeServed("m", "1", old), FakeServed("m", "2", new)

    async def scenario() -> list[np.ndarray]:
        batcher = MicroBatcher("m", max_rows=64, max_wait_s=0.05, on_batch=lambda *_: None)
        batcher.start()
        models = [v1, v2, v1, v2, v2]
        results = await asyncio.gather(*(batcher.submit(m, np.array([[1.0]])) for m in models))
        await batcher.stop()
        return results

    results = _run(scenario())

    assert [r.tolist() for r in results] == [[2.0], [102.0], [2.0], [102.0], [102.0]]
    assert (sum(old.calls), sum(new.calls)) == (2, 3)


def test_a_failing_call_fails_its_requests_and_the_batcher_keeps_going() -> None:
    predictor = RecordingPredictor(fail=True)
    model = FakeServed("m", "1", predictor)

    async def scenario() -> tuple[list[Any], np.ndarray]:
        batcher = MicroBatcher("m", max_rows=8, max_wait_s=0.01, on_batch=lambda *_: None)
        batcher.start()
        failed = await asyncio.gather(
            *(batcher.submit(model, np.ones((1, 1))) for _ in range(3)), return_exceptions=True
        )
        predictor.fail = False
        recovered = await batcher.submit(model, np.ones((1, 1)))
        await batcher.stop()
        return failed, recovered

    failed, recovered = _run(scenario())

    assert all(isinstance(f, ValueError) for f in failed)
    assert recovered.tolist() == [2.0]


def test_stop_finishes_what_is_queued() -> None:
    release = threading.Event()
    predictor = RecordingPredictor(release=release)
    model = FakeServed("m", "1", predictor)

    async def scenario() -> list[np.ndarray]:
        batcher = MicroBatcher("m", max_rows=2, max_wait_s=0.0, on_batch=lambda *_: None)
        batcher.start()
        pending = [asyncio.ensure_future(batcher.submit(model, np.array([[float(i)]]))) for i in range(5)]
        await asyncio.sleep(0.05)
        stopping = asyncio.ensure_future(batcher.stop())
        release.set()
        await stopping
        return [p.result() for p in pending]

    results = _run(scenario())

    assert [r.tolist() for r in results] == [[0.0], [2.0], [4.0], [6.0], [8.0]]


@pytest.mark.parametrize("max_wait_s", [0.0, 0.002])
def test_a_single_request_is_answered_without_waiting_for_company(max_wait_s: float) -> None:
    model = FakeServed("m", "1", RecordingPredictor())

    async def scenario() -> float:
        batcher = MicroBatcher("m", max_rows=64, max_wait_s=max_wait_s, on_batch=lambda *_: None)
        batcher.start()
        loop = asyncio.get_running_loop()
        started = loop.time()
        await batcher.submit(model, np.ones((1, 1)))
        elapsed = loop.time() - started
        await batcher.stop()
        return elapsed

    assert _run(scenario()) < max_wait_s + 0.5


def test_the_model_thread_runs_queued_batches_while_the_event_loop_is_busy() -> None:
    predictor = RecordingPredictor()
    model = FakeServed("m", "1", predictor)

    async def scenario() -> tuple[int, list[np.ndarray]]:
        batcher = MicroBatcher("m", max_rows=1, max_wait_s=0.0, on_batch=lambda *_: None)
        batcher.start()
        pending = [asyncio.ensure_future(batcher.submit(model, np.array([[float(i)]]))) for i in range(4)]
        await asyncio.sleep(0)  # every submission is queued now
        deadline = time.monotonic() + 5
        while len(predictor.calls) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)  # the loop is blocked, as by a request being decoded
        calls_while_blocked = len(predictor.calls)
        results = await asyncio.gather(*pending)
        await batcher.stop()
        return calls_while_blocked, results

    calls_while_blocked, results = _run(scenario())

    assert calls_while_blocked == 4  # one batch each, none waiting for the loop to hand it over
    assert [r.tolist() for r in results] == [[0.0], [2.0], [4.0], [6.0]]


@pytest.mark.parametrize(
    "arrays",
    [
        [np.arange(2 * 784, dtype=np.float32).reshape(2, 1, 28, 28), np.ones((3, 1, 28, 28), np.float32)],
        [np.arange(12.0).reshape(4, 3), np.arange(6.0).reshape(3, 2).T[:1]],  # a non-contiguous slice
        [np.arange(5.0).reshape(1, 5)],
    ],
)
def test_stacked_rows_equal_numpy_concatenation(arrays: list[np.ndarray]) -> None:
    stacked = stack_rows(arrays)

    expected = np.concatenate(arrays)
    assert stacked.dtype == expected.dtype and stacked.shape == expected.shape
    assert np.array_equal(stacked, expected)
    assert stacked.flags.c_contiguous and stacked.flags.writeable


def test_rows_of_another_shape_or_dtype_are_not_stacked() -> None:
    with pytest.raises(ValueError, match="cannot stack"):
        stack_rows([np.zeros((1, 3)), np.zeros((1, 4))])
    with pytest.raises(ValueError, match="cannot stack"):
        stack_rows([np.zeros((1, 3)), np.zeros((1, 3), np.float32)])


def test_stacking_never_lets_another_thread_run() -> None:
    """The model thread keeps the GIL while it stacks; numpy's own copy would let the event loop in."""
    arrays = [np.full((8, 1024, 1024), i, np.float32) for i in range(4)]  # 128 MiB to copy
    progress = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal progress
        while not stop.is_set():
            progress += 1
            time.sleep(0)  # gives the GIL back at once whenever this thread has it

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1.0)  # no forced switch within the copy
    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        while progress < 100:
            time.sleep(0.001)
        before = progress
        stacked = stack_rows(arrays)
        during = progress - before
    finally:
        stop.set()
        spinner.join(5)
        sys.setswitchinterval(interval)

    assert during == 0
    assert stacked.shape == (32, 1024, 1024) and stacked[-1, 0, 0] == 3
