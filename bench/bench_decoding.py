"""/v1 request decoding: the pydantic-only path against the orjson + numpy fast path, µs per body.

Run with the serving venv:
    services/serving/.venv/bin/python bench/bench_decoding.py [--rounds 7] [--seconds 0.3]

The bodies are those bench/bench_serving.py sends: power records (24 features in the booster's order,
23 doubles and `hour` as a long, as tests build the signature) and MNIST images (28×28 arrays of
0..255 ints). Each case checks both paths decode its body to the same inputs and records, then times
them in alternating rounds (so drifting background load hits all alike) and prints the median of the
rounds' per-decode times: `decode_pydantic`, `decode` (what serving runs: the fast path, except for
records bodies under 4 KB, which go straight to pydantic) and the fast path alone; then pydantic ÷
decode, with each round's ratio.
"""

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import orjson

from serving.contracts import ImageContract, tabular_contract
from serving.decoding import DecodedRequest, Decoder, ImagesDecoder, RecordsDecoder
from serving.testing.models import tabular_signature

MAX_ROWS = 256


def _cases() -> dict[str, tuple[Decoder, bytes]]:
    rng = np.random.default_rng(0)
    features = [f"f_{i}" for i in range(23)] + ["hour"]
    records = RecordsDecoder(tabular_contract(tabular_signature(features).inputs, features), MAX_ROWS)
    rows = rng.normal(size=(64, len(features)))
    rows[:, -1] = np.round(rows[:, -1])
    power = [{**dict(zip(features, row.tolist(), strict=True)), "hour": int(row[-1])} for row in rows]
    images = ImagesDecoder(ImageContract("images", 1, 28, 28), MAX_ROWS)
    pixels = rng.integers(0, 256, size=(32, 28, 28))
    return {
        "power/1": (records, orjson.dumps({"records": power[:1]})),
        "power/64": (records, orjson.dumps({"records": power})),
        "mnist/1": (images, orjson.dumps({"images": pixels[:1].tolist()})),
        "mnist/32": (images, orjson.dumps({"images": pixels.tolist()})),
    }


def _same(a: DecodedRequest, b: DecodedRequest) -> bool:
    return (
        a.inputs.dtype == b.inputs.dtype
        and a.inputs.shape == b.inputs.shape
        and a.inputs.tobytes() == b.inputs.tobytes()
        and repr(a.records) == repr(b.records)  # 1 and 1.0 differ here
    )


def _us_per_call(call: Callable[[], object], seconds: float) -> float:
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(10):
            call()
        calls += 10
    return elapsed / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per case")
    parser.add_argument("--seconds", type=float, default=0.3, help="timed seconds per path and round")
    args = parser.parse_args()
    print(
        f"{'case':9} {'bytes':>6} {'pydantic µs':>11} {'decode µs':>9} {'fast µs':>8} {'ratio':>5}   rounds"
    )
    for name, (decoder, body) in _cases().items():
        fast = decoder._decode_fast(body)
        if fast is None or not _same(fast, decoder.decode_pydantic(body)):
            raise SystemExit(f"{name}: the fast path did not decode the body as pydantic does")
        paths = {"pydantic": decoder.decode_pydantic, "decode": decoder.decode, "fast": decoder._decode_fast}
        us: dict[str, list[float]] = {path: [] for path in paths}
        for _ in range(args.rounds):
            for path, decode in paths.items():
                us[path].append(_us_per_call(lambda d=decode, b=body: d(b), args.seconds))
        median = {path: statistics.median(times) for path, times in us.items()}
        rounds = " ".join(f"{s / d:.2f}" for s, d in zip(us["pydantic"], us["decode"], strict=True))
        print(
            f"{name:9} {len(body):6} {median['pydantic']:11.1f} {median['decode']:9.1f} {median['fast']:8.1f} "
            f"{median['pydantic'] / median['decode']:5.2f}   {rounds}"
        )


if __name__ == "__main__":
    main()
