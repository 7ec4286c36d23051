# Serving (owner: serving). Included by the Makefile.
.PHONY: serve serve-down bench-serving bench-serving-swap fuzz-serving
FUZZ_MAX_EXAMPLES ?= 500
serve: services/serving/.venv/.stamp mlflow-up  ## start serving in the background (SERVING_MODELS=...), print example curls
	services/serving/scripts/demo.sh start

serve-down:  ## stop the serving process started by serve / demo
	services/serving/scripts/demo.sh stop

# Peer servers for the benchmark, each in its own virtualenv (their pins clash with ours and each other's).
BENCH_PEERS := mlserver bentoml
bench/peers/%/.venv/.stamp: bench/peers/%/requirements.txt | uv
	$(UV) venv --quiet --allow-existing -p $(PYTHON) bench/peers/$*/.venv
	$(UV) pip install --python bench/peers/$*/.venv/bin/python --quiet -r $<
	touch $@

bench-serving: services/serving/.venv/.stamp $(PLATFORM_VENV)/.stamp $(foreach p,$(BENCH_PEERS),bench/peers/$(p)/.venv/.stamp)  ## ours vs MLServer, BentoML, `mlflow models serve`: req/s, p50/p99
	$(UV) pip install --python services/serving/.venv/bin/python --quiet -e libs/mlops-core -e "services/serving[test,bench]"
	services/serving/.venv/bin/python bench/bench_serving.py $(BENCH_ARGS)

bench-serving-swap: services/serving/.venv/.stamp $(PLATFORM_VENV)/.stamp  ## latency and failed requests while a champion moves under load
	$(UV) pip install --python services/serving/.venv/bin/python --quiet -e libs/mlops-core -e "services/serving[test,bench]"
	services/serving/.venv/bin/python bench/bench_serving_swap.py $(BENCH_ARGS)

fuzz-serving: services/serving/.venv/.stamp $(PLATFORM_VENV)/.stamp  ## fuzz /v1 and /v2 from their OpenAPI document (FUZZ_MAX_EXAMPLES per operation)
	cd services/serving && FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) .venv/bin/pytest -q tests/test_fuzz_openapi.py
