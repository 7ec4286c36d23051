"""Tick rollup throughput: the Spark job vs the DuckDB reference on the same files, same machine, one run.

    services/tick-features/.venv/bin/python bench/bench_tick_rollup.py [--sizes 1000000 10000000]

For each size it generates 5 days x 50 symbols of raw ticks (kept under --work-dir for reuse), runs the
Spark rollup 1 + --warm-runs times in one session (cold: first run incl. JIT and plan warm-up) and the
DuckDB reference the same number of times (reported: the best run after the first, for both engines),
both reading the same raw files and writing features and quarantine Parquet. Session start is reported apart. Prints ticks/s, warm Spark / DuckDB, and the
10M/1M time ratio, against the targets (warm Spark <= 3x DuckDB; 10M/1M <= 11).
"""

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from tick_features.generate import GeneratorConfig, generate_days, write_partition
from tick_features.layout import TickPaths, partition_dir
from tick_features.reference import write_reference_rollup
from tick_features.rollup import run_rollup
from tick_features.session import resolve_session_spec, start_session

DAYS = 5
SYMBOLS = 50
FIRST_DAY = date(2024, 1, 2)
TARGET_RATIO_TO_DUCKDB = 3.0
TARGET_SCALING = 11.0


def _raw_dir(work: Path, ticks: int) -> Path:
    raw = work / f"ticks-{ticks}" / "raw"
    marker = raw / ".complete"
    if not marker.exists():
        shutil.rmtree(raw, ignore_errors=True)
        started = time.perf_counter()
        config = GeneratorConfig(symbols=SYMBOLS, ticks_per_day=ticks // DAYS, seed=2024)
        for day, table in generate_days(FIRST_DAY, DAYS, config):
            write_partition(raw, day, table)
        marker.write_text("ok")
        print(f"generated {ticks:,} ticks in {time.perf_counter() - started:.1f}s -> {raw}", flush=True)
    return raw


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench-tick-rollup")
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--warm-runs", type=int, default=2, help="timed runs after the cold one, per engine")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    print(f"cpus={os.cpu_count()} load_average={os.getloadavg()[0]:.1f} (shared machine: compare ratios)")

    raws = {ticks: _raw_dir(args.work_dir, ticks) for ticks in args.sizes}
    started = time.perf_counter()
    spec = resolve_session_spec(
        args.master, [f"spark.driver.memory={args.driver_memory}", "spark.ui.enabled=false"], environ={}
    )
    spark = start_session(spec, app_name="bench-tick-rollup")
    session_start = time.perf_counter() - started
    print(f"spark session start: {session_start:.1f}s (master {args.master})", flush=True)

    results = []
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    for ticks, raw in raws.items():
        out = args.work_dir / f"ticks-{ticks}" / "out"
        shutil.rmtree(out, ignore_errors=True)
        paths = TickPaths(
            raw, out / "spark" / "features", out / "spark" / "quarantine", out / "spark" / "manifests"
        )
        runs = 1 + args.warm_runs
        spark_times = [_timed(lambda p=paths: run_rollup(spark, p, FIRST_DAY, last)) for _ in range(runs)]
        files = sorted(
            f
            for d in range(DAYS)
            for f in partition_dir(raw, FIRST_DAY + timedelta(days=d)).glob("*.parquet")
        )

        def duck(files=files, out=out) -> None:
            shutil.rmtree(out / "duckdb", ignore_errors=True)
            (out / "duckdb").mkdir(parents=True)
            write_reference_rollup(files, out / "duckdb")

        duck_times = [_timed(duck) for _ in range(runs)]
        spark_warm, duck_warm = min(spark_times[1:]), min(duck_times[1:])
        row = {
            "ticks": ticks,
            "spark_cold_s": round(spark_times[0], 2),
            "spark_warm_s": round(spark_warm, 2),
            "duckdb_s": round(duck_warm, 2),
            "spark_ticks_per_s": round(ticks / spark_warm),
            "duckdb_ticks_per_s": round(ticks / duck_warm),
            "spark_vs_duckdb": round(spark_warm / duck_warm, 2),
        }
        results.append(row)
        print(
            f"{ticks:>12,} ticks  spark cold {row['spark_cold_s']:7.2f}s  warm {row['spark_warm_s']:7.2f}s "
            f"({row['spark_ticks_per_s']:>10,} ticks/s)  duckdb {row['duckdb_s']:6.2f}s "
            f"({row['duckdb_ticks_per_s']:>10,} ticks/s)  warm spark / duckdb = {row['spark_vs_duckdb']:.2f}x",
            flush=True,
        )
    spark.stop()

    summary = {
        "session_start_s": round(session_start, 2),
        "runs": results,
        "load_average": os.getloadavg()[0],
    }
    worst = max(r["spark_vs_duckdb"] for r in results)
    verdict = "meets" if worst <= TARGET_RATIO_TO_DUCKDB else "MISSES"
    print(f"warm spark / duckdb: worst {worst:.2f}x, {verdict} target <= {TARGET_RATIO_TO_DUCKDB}x")
    by_size = {r["ticks"]: r for r in results}
    if 1_000_000 in by_size and 10_000_000 in by_size:
        scaling = by_size[10_000_000]["spark_warm_s"] / by_size[1_000_000]["spark_warm_s"]
        duck_scaling = by_size[10_000_000]["duckdb_s"] / by_size[1_000_000]["duckdb_s"]
        summary.update(spark_10m_over_1m=round(scaling, 2), duckdb_10m_over_1m=round(duck_scaling, 2))
        verdict = "meets" if scaling <= TARGET_SCALING else "MISSES"
        print(
            f"spark 10M/1M time: {scaling:.2f} ({verdict} target <= {TARGET_SCALING}); duckdb {duck_scaling:.2f}"
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
