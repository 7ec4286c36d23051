# One entry point for developers and CI. Every package gets its own virtualenv (built with uv);
# nothing is installed globally except uv itself.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
UV := $(PYTHON) -m uv
# A wheelhouse holding the CPU build of torch (PyPI's Linux torch is the multi-GB CUDA build): the
# first of ../shared/wheels (beside the checkout) and /opt/wheels that exists; elsewhere point
# UV_FIND_LINKS or UV_EXTRA_INDEX_URL (e.g. https://download.pytorch.org/whl/cpu) at one.
UV_FIND_LINKS ?= $(firstword $(wildcard $(abspath $(CURDIR)/../shared/wheels) /opt/wheels))
export UV_FIND_LINKS
# Compile bytecode at install: with PYTHONDONTWRITEBYTECODE set (as here), every Airflow, MLflow and
# workload process would otherwise recompile everything it imports (seconds of CPU each).
export UV_COMPILE_BYTECODE := 1

SERVICES := training-lgbm training-cnn tick-features serving
PLATFORM_VENV := .venv
AIRFLOW_VENV := orchestration/.venv
MLFLOW_HOST ?= 127.0.0.1
MLFLOW_PORT ?= 5000
MLFLOW_HOME ?= $(CURDIR)/.mlflow
DATA_ROOT ?= $(CURDIR)/.data
AIRFLOW_HOME ?= $(CURDIR)/.airflow
export MLFLOW_TRACKING_URI ?= http://$(MLFLOW_HOST):$(MLFLOW_PORT)
export MLOPS_MLFLOW_BIN := $(CURDIR)/$(PLATFORM_VENV)/bin/mlflow
export MLOPS_REPO_ROOT := $(CURDIR)
export MLOPS_DATA_ROOT := $(DATA_ROOT)
export AIRFLOW_HOME
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/orchestration/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__AUTH_MANAGER := airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager
AIRFLOW := $(AIRFLOW_VENV)/bin/airflow

.PHONY: help
help:  ## list targets
	@grep -hE '^[a-zA-Z0-9_%-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 24

# Fragments owned by one area each (deployment, benchmarks, ...).
-include mk/*.mk

# --- environments ---------------------------------------------------------------------------
.PHONY: uv
uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv>=0.5"

$(PLATFORM_VENV)/.stamp: libs/mlops-core/pyproject.toml | uv
	$(UV) venv --quiet --allow-existing -p $(PYTHON) $(PLATFORM_VENV)
	$(UV) pip install --python $(PLATFORM_VENV)/bin/python --quiet -e "libs/mlops-core[server,test,k8s]" ruff httpx
	touch $@

services/%/.venv/.stamp: services/%/pyproject.toml libs/mlops-core/pyproject.toml | uv
	$(UV) venv --quiet --allow-existing -p $(PYTHON) services/$*/.venv
	$(UV) pip install --python services/$*/.venv/bin/python --quiet -e libs/mlops-core -e "services/$*[test]"
	touch $@

$(AIRFLOW_VENV)/.stamp: orchestration/pyproject.toml | uv
	$(UV) venv --quiet --allow-existing -p $(PYTHON) $(AIRFLOW_VENV)
	$(UV) pip install --python $(AIRFLOW_VENV)/bin/python --quiet -e "orchestration[test]" -e "libs/mlops-core[k8s]"
	touch $@

SERVICE_VENVS := $(foreach s,$(SERVICES),$(if $(wildcard services/$(s)/pyproject.toml),services/$(s)/.venv/.stamp))

.PHONY: setup
setup: $(PLATFORM_VENV)/.stamp $(SERVICE_VENVS) $(AIRFLOW_VENV)/.stamp  ## create every virtualenv

# --- services -------------------------------------------------------------------------------
.PHONY: mlflow-up mlflow-down
mlflow-up: $(PLATFORM_VENV)/.stamp  ## start the MLflow tracking server on loopback (SQLite, proxied artifacts)
	@mkdir -p $(MLFLOW_HOME) .run
	@if curl -sf $(MLFLOW_TRACKING_URI)/health >/dev/null; then echo "MLflow already up at $(MLFLOW_TRACKING_URI)"; else \
	  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false nohup $(MLOPS_MLFLOW_BIN) server --backend-store-uri sqlite:///$(MLFLOW_HOME)/mlflow.db \
	    --artifacts-destination $(MLFLOW_HOME)/artifacts --serve-artifacts \
	    --host $(MLFLOW_HOST) --port $(MLFLOW_PORT) --workers 1 > .run/mlflow.log 2>&1 & echo $$! > .run/mlflow.pid; \
	  for i in $$(seq 1 120); do curl -sf $(MLFLOW_TRACKING_URI)/health >/dev/null && break; sleep 0.5; done; \
	  curl -sf $(MLFLOW_TRACKING_URI)/health >/dev/null || { cat .run/mlflow.log; exit 1; }; \
	  echo "MLflow up at $(MLFLOW_TRACKING_URI) (logs: .run/mlflow.log)"; fi

mlflow-down:  ## stop the MLflow server started by mlflow-up
	@if [ -f .run/mlflow.pid ]; then kill $$(cat .run/mlflow.pid) 2>/dev/null || true; rm -f .run/mlflow.pid; fi

# --- data and Airflow ----------------------------------------------------------------------
.PHONY: sample-data airflow-init dags-test demo
TICK_START ?= 2026-11-16
sample-data: $(SERVICE_VENVS)  ## write sample data in the real formats under $(DATA_ROOT) (skips what exists)
	@test -f $(DATA_ROOT)/power/household_power_consumption.txt || \
	  services/training-lgbm/.venv/bin/train-lgbm generate power --out $(DATA_ROOT)/power --days 400
	@test -f $(DATA_ROOT)/mnist/train-images-idx3-ubyte.gz || \
	  services/training-cnn/.venv/bin/cnn-data generate --dataset mnist --out $(DATA_ROOT)/mnist >/dev/null
	@test -d $(DATA_ROOT)/cifar10/cifar-10-batches-bin || \
	  services/training-cnn/.venv/bin/cnn-data generate --dataset cifar10 --out $(DATA_ROOT)/cifar10 \
	    --train-size 1500 --test-size 300 >/dev/null
	@test -d $(DATA_ROOT)/ticks/raw || services/tick-features/.venv/bin/tick-features generate \
	  --data-root $(DATA_ROOT) --start $(TICK_START) --days 3 --symbols 8 --ticks-per-day 20000 >/dev/null
	@echo "sample data in $(DATA_ROOT)"

airflow-init: $(AIRFLOW_VENV)/.stamp  ## migrate Airflow's DB (SQLite); pools, team roles and users from the catalog
	@mkdir -p $(AIRFLOW_HOME)
	$(AIRFLOW) db migrate > $(AIRFLOW_HOME)/migrate.log 2>&1 || { tail -20 $(AIRFLOW_HOME)/migrate.log; exit 1; }
	$(AIRFLOW_VENV)/bin/mlops-airflow pools > $(AIRFLOW_HOME)/pools.json
	$(AIRFLOW) pools import $(AIRFLOW_HOME)/pools.json
	@# Team roles must exist before DAGs are serialized: FAB rejects access_control naming unknown roles.
	@mkdir -p .run && $(AIRFLOW_VENV)/bin/python orchestration/scripts/airflow_access.py --passwords .run/airflow-users.json

DAG ?= power_lgbm_training
dags-test: setup sample-data mlflow-up airflow-init  ## run one DAG end to end: make dags-test DAG=<dag_id>
	$(AIRFLOW) dags test $(DAG)

demo: setup sample-data mlflow-up airflow-init  ## everything set up; every pipeline through Airflow; promote; serve
	scripts/demo.sh

# --- quality --------------------------------------------------------------------------------
.PHONY: lint test test-core test-services test-orchestration test-platform
lint: $(PLATFORM_VENV)/.stamp  ## ruff
	$(PLATFORM_VENV)/bin/ruff check .
	$(PLATFORM_VENV)/bin/ruff format --check .

test-core: $(PLATFORM_VENV)/.stamp
	$(PLATFORM_VENV)/bin/pytest -q libs/mlops-core/tests

test-services: $(SERVICE_VENVS)
	@for s in $(SERVICES); do if [ -d services/$$s/tests ]; then \
	  echo "== services/$$s"; (cd services/$$s && .venv/bin/pytest -q tests) || exit 1; fi; done

test-orchestration: $(AIRFLOW_VENV)/.stamp
	$(AIRFLOW_VENV)/bin/pytest -q orchestration/tests

test-platform: setup  ## cross-package tests: real MLflow + real Airflow + service CLIs
	$(PLATFORM_VENV)/bin/pytest -q tests

test: lint test-core test-services test-orchestration test-platform  ## lint and every test suite
