# Benchmarks (owner: platform). Each script prints its numbers and the ratio to a baseline run in the
# same process; BENCH_ARGS passes options through (see each script's --help). Included by the Makefile.
.PHONY: bench-power bench-tick bench-tick-k8s bench-cnn bench-dags bench-k8s

bench-power: services/training-lgbm/.venv/.stamp $(PLATFORM_VENV)/.stamp  ## power CLI end to end vs bare lightgbm.train (~1M rows)
	services/training-lgbm/.venv/bin/python bench/bench_power_training.py $(BENCH_ARGS)

bench-tick: services/tick-features/.venv/.stamp  ## Spark rollup vs the DuckDB reference, 1M and 10M ticks
	services/tick-features/.venv/bin/python bench/bench_tick_rollup.py $(BENCH_ARGS)

bench-tick-k8s: setup  ## tick rollup of 10M ticks on the local cluster: local[*] in one pod vs 2 executor pods of 1 core (after make e2e-k8s)
	$(PLATFORM_VENV)/bin/python bench/bench_tick_executors.py $(BENCH_ARGS)

bench-cnn: services/training-cnn/.venv/.stamp  ## our training loop vs a plain PyTorch loop, images/s
	services/training-cnn/.venv/bin/python bench/bench_cnn_throughput.py $(BENCH_ARGS)

bench-dags: setup  ## DAG file parse times and the local launcher's overhead
	$(AIRFLOW_VENV)/bin/python bench/bench_dag_parse.py $(BENCH_ARGS)

bench-k8s: setup  ## one light step in local vs kubernetes mode on the local cluster (after make e2e-k8s)
	$(AIRFLOW_VENV)/bin/python bench/bench_k8s_launch.py $(BENCH_ARGS)
