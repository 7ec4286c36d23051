"""A bounded client loop against serving while a model's champion moves: every request must succeed,
and the loop ends once answers come from the expected version (or fails after --max-seconds).

Usage: python -m deploy.serving_load http://SERVING:8080 --model power_lgbm --until-version 2
(the platform virtualenv, from the repository root). The loop is deploy/faults/load.py's: kept-alive
connections, no retries. Prints requests sent, failures, the versions that answered and latencies.
"""

import argparse
import sys
import time

from deploy.faults.load import Load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--model", required=True)
    parser.add_argument("--until-version", required=True, help="stop once this version answers")
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    load = Load(args.base_url.rstrip("/"), args.model, args.threads, args.until_version, args.max_seconds)
    started = time.monotonic()
    with load:
        load.reached.wait(args.max_seconds)
    total = len(load.latencies)
    print(
        f"{args.model}: {total} requests in {time.monotonic() - started:.1f}s, {len(load.failures)} failed, versions {dict(load.versions)}, "
        f"p50 {load.percentile(0.5) * 1000:.1f} ms, p99 {load.percentile(0.99) * 1000:.1f} ms, "
        f"max {max(load.latencies, default=0) * 1000:.1f} ms, {args.threads} kept-alive connections"
    )
    for failure in load.failures[:10]:
        print(f"  failed: {failure}")
    if load.failures:
        raise SystemExit(f"{len(load.failures)} of {total} requests failed")
    if not load.reached.is_set():
        raise SystemExit(
            f"version {args.until_version} of {args.model} never answered in {args.max_seconds:.0f}s"
        )


if __name__ == "__main__":
    sys.exit(main())
