"""Power training: our CLI end to end vs a bare `lightgbm.train` on the same feature matrix and parameters.

Run with the service's venv (MLOPS_MLFLOW_BIN must point at a full `mlflow`, as the Makefile sets):
    services/training-lgbm/.venv/bin/python bench/bench_power_training.py [--days 730] [--frequency 1min]

At `--frequency 1min` two years of minute readings give a feature matrix of ~1M rows, so the bare
training is the same size as the CLI's. Prints both times and the overhead ratio (target <= 1.10).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import lightgbm as lgb

from mlops_core.testing import MlflowServer
from training_lgbm.power.data import load_household_power
from training_lgbm.power.features import (
    TARGET,
    FeatureConfig,
    build_features,
    feature_columns,
    resample_target,
    split_by_time,
)
from training_lgbm.power.model import ModelConfig
from training_lgbm.power.sample import SampleSpec, write_sample


def bare_training(data_file: Path, frequency: str, config: ModelConfig) -> tuple[float, int, int]:
    """Seconds spent in lgb.train alone (Dataset construction included), rows, best iteration."""
    features = FeatureConfig(frequency=frequency)
    frame = build_features(resample_target(load_household_power(data_file).frame, features), features)
    split = split_by_time(frame, 0.1, 0.1)
    columns = feature_columns(frame)
    start = time.perf_counter()
    train_set = lgb.Dataset(split.train[columns], label=split.train[TARGET])
    valid_set = lgb.Dataset(split.validation[columns], label=split.validation[TARGET], reference=train_set)
    booster = lgb.train(
        config.lgb_params(),
        train_set,
        num_boost_round=config.num_boost_round,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )
    return time.perf_counter() - start, len(frame), booster.best_iteration


def cli_training(data_file: Path, frequency: str, tracking_uri: str, run_key: str) -> float:
    cli = Path(sys.executable).parent / "train-lgbm"
    env = {**os.environ, "MLOPS_LOG_FORMAT": "json"}
    command = [str(cli), "power", "--data-dir", str(data_file), "--frequency", frequency, "--run-key", run_key,
               "--tracking-uri", tracking_uri, "--min-improvement", "0"]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"CLI failed ({result.returncode}):\n{result.stderr[-3000:]}")
    print("  CLI summary:", result.stdout.strip().splitlines()[-1])
    stages = [json.loads(line) for line in result.stderr.splitlines() if '"stage done"' in line]
    print("  CLI stages: " + ", ".join(f"{s['stage']} {s['seconds']:.1f}s" for s in stages))
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--frequency", default="1min")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data_file = write_sample(
            root / "power" / "household_power_consumption.txt",
            SampleSpec(start=date(2007, 1, 1), days=args.days),
        )
        with MlflowServer(root / "mlflow") as server:
            bare, rows, best = bare_training(data_file, args.frequency, ModelConfig())
            cli = cli_training(data_file, args.frequency, server.uri, run_key=f"bench/{time.time_ns()}")
    print(f"input minutes:          {args.days * 1440:,}")
    print(f"feature rows:           {rows:,} (frequency {args.frequency}); best iteration {best}")
    print(f"bare lightgbm.train:    {bare:8.2f} s")
    print(
        f"train-lgbm power (CLI): {cli:8.2f} s  (process start, parse, features, train, evaluate, MLflow logging)"
    )
    print(f"overhead ratio:         {cli / bare:8.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
