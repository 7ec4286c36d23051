# Local Airflow with per-team access (owner: orchestration/Airflow access). Included by the Makefile.
# airflow-up = airflow-init (DB migrate, catalog pools) + orchestration/scripts/airflow_access.py (team
# roles from the catalog's `teams`, admin + one user per team) + orchestration/scripts/airflow_stack.py
# (api-server with the FAB auth manager, scheduler, dag-processor, triggerer on 127.0.0.1, in the
# background; pid files and logs in $(AIRFLOW_RUN_DIR); waits until healthy and every DAG is parsed).
# Passwords: MLOPS_AIRFLOW_PASSWORD_<USER> when set, else generated once into $(AIRFLOW_PASSWORDS).
AIRFLOW_PORT ?= 8080
AIRFLOW_RUN_DIR ?= $(CURDIR)/.run
AIRFLOW_PASSWORDS ?= $(AIRFLOW_RUN_DIR)/airflow-users.json
# Bytecode comes from the venv itself (the Makefile installs with UV_COMPILE_BYTECODE=1).
AIRFLOW_SCRIPTS_ENV =

.PHONY: airflow-up airflow-down
airflow-up: airflow-init  ## start Airflow on 127.0.0.1:AIRFLOW_PORT (8080) with team roles and users
	@mkdir -p $(AIRFLOW_RUN_DIR)
	@# airflow-init created the roles and users; this only refreshes them for a custom AIRFLOW_PASSWORDS.
	@$(AIRFLOW_SCRIPTS_ENV) $(AIRFLOW_VENV)/bin/python orchestration/scripts/airflow_access.py \
	  --passwords $(AIRFLOW_PASSWORDS) >/dev/null
	@$(AIRFLOW_SCRIPTS_ENV) $(AIRFLOW_VENV)/bin/python orchestration/scripts/airflow_stack.py up \
	  --run-dir $(AIRFLOW_RUN_DIR) --port $(AIRFLOW_PORT) --passwords $(AIRFLOW_PASSWORDS)
	@echo "UI: http://127.0.0.1:$(AIRFLOW_PORT)  users: admin + one per team, passwords in $(AIRFLOW_PASSWORDS)"
	@echo "REST: POST /auth/token {\"username\",\"password\"} -> access_token; then Authorization: Bearer <token> on /api/v2"

airflow-down:  ## stop the Airflow started by airflow-up
	@if [ -x $(AIRFLOW_VENV)/bin/python ]; then \
	  $(AIRFLOW_VENV)/bin/python orchestration/scripts/airflow_stack.py down --run-dir $(AIRFLOW_RUN_DIR); fi
