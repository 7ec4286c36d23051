"""Drive a deployed Airflow 3 through its REST API (stdlib only): create the catalog's pools,
trigger DAGs and wait for their runs, answer a human-in-the-loop approval. Used by deploy/deploy.sh,
deploy/e2e-kind.sh and deploy/e2e-k8s.sh.

  python3 deploy/airflow_api.py --url http://127.0.0.1:18081 pools orchestration/dags/catalog.yaml
  python3 deploy/airflow_api.py --url ... run --match train --timeout 5400
  python3 deploy/airflow_api.py --url ... trigger tick_features --logical-date 2026-11-16
  python3 deploy/airflow_api.py --url ... trigger promote_model --conf '{"workload": "power", "version": "1"}' \
      --approve "reason the approver gives"
Credentials: AIRFLOW_USERNAME / AIRFLOW_PASSWORD (default admin/admin, the kind dev user).
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

FINISHED = {"success", "failed"}
DB_ERROR_RETRIES = 5


class AirflowApi:
    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url.rstrip("/")
        token = self._call("POST", "/auth/token", {"username": username, "password": password}, auth=False)
        self.token = token["access_token"]

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(DB_ERROR_RETRIES + 1):
            request = urllib.request.Request(f"{self.url}{path}", data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as error:
                detail = error.read()[:500]
                # A metadata DB busy with another writer (SQLite) rolls the request back: safe to repeat.
                if error.code == 500 and b"Database error" in detail and attempt < DB_ERROR_RETRIES:
                    time.sleep(2**attempt)
                    continue
                raise RuntimeError(f"{method} {path}: HTTP {error.code}: {detail!r}") from error

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, body)

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("PATCH", path, body)


def catalog_pools(catalog: Path) -> list[dict[str, Any]]:
    """Pools from the catalog's top-level `pools` (a list of {name, slots, description} or a
    mapping name -> slots | {slots, description})."""
    raw = (yaml.safe_load(catalog.read_text()) or {}).get("pools") or []
    if isinstance(raw, dict):
        raw = [{"name": k, **(v if isinstance(v, dict) else {"slots": v})} for k, v in raw.items()]
    return [
        {"name": p["name"], "slots": int(p["slots"]), "description": p.get("description", "")} for p in raw
    ]


def upsert_pools(api: AirflowApi, pools: list[dict[str, Any]]) -> None:
    existing = {p["name"] for p in api.get("/api/v2/pools?limit=1000")["pools"]}
    for pool in pools:
        if pool["name"] in existing:
            api.patch(
                f"/api/v2/pools/{pool['name']}", {"slots": pool["slots"], "description": pool["description"]}
            )
        else:
            api.post("/api/v2/pools", {**pool, "include_deferred": False})
        print(f"pool {pool['name']}: {pool['slots']} slots")


def run_dags(api: AirflowApi, match: str, timeout: float) -> None:
    dags = [d["dag_id"] for d in api.get("/api/v2/dags?limit=1000")["dags"] if match in d["dag_id"]]
    if not dags:
        raise SystemExit(f"no DAG id contains {match!r}")
    runs = {}
    for dag_id in dags:
        api.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})
        run = api.post(f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": {}})
        runs[dag_id] = run["dag_run_id"]
        print(f"triggered {dag_id}: {run['dag_run_id']}", flush=True)
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline and len(states) < len(runs):
        for dag_id, run_id in runs.items():
            if dag_id not in states:
                state = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
                if state in FINISHED:
                    states[dag_id] = state
                    print(f"{dag_id}: {state}", flush=True)
        time.sleep(10)
    unfinished = sorted(set(runs) - set(states))
    failed = sorted(d for d, s in states.items() if s != "success")
    if unfinished or failed:
        raise SystemExit(f"DAG runs failed: {failed}; still running after {timeout:.0f}s: {unfinished}")
    print(f"all {len(runs)} DAG runs succeeded")


def trigger(api: AirflowApi, dag_id: str, logical_date: str | None, conf: dict[str, Any]) -> str:
    api.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})
    body: dict[str, Any] = {
        "logical_date": f"{logical_date}T00:00:00Z" if logical_date else None,
        "conf": conf,
    }
    run_id = api.post(f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]
    print(f"triggered {dag_id}: {run_id}", flush=True)
    return run_id


# Task states of a human-in-the-loop request waiting for its answer.
PARKED = frozenset({"awaiting_input", "deferred"})
# How long a request waits before the harness answers it. The process that parked the task takes
# a few seconds to finish (5 s seen); an answer before the scheduler has seen it finish re-queues the
# task first, and the scheduler then fails it ("finished with state success, but the task
# instance's state attribute is queued"). A person never answers that fast.
ANSWER_AFTER_S = 15.0


def answer_approvals(api: AirflowApi, dag_id: str, run_id: str, option: str, reason: str) -> int:
    """Answer every pending human-in-the-loop request of the run that has waited ANSWER_AFTER_S, as
    the API user, the way the Required Actions view does. Returns how many were answered."""
    details = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/hitlDetails")["hitl_details"]
    answered = 0
    for detail in details:
        ti = detail["task_instance"]
        if detail["response_received"] or ti.get("state") not in PARKED:
            continue
        created = datetime.fromisoformat(detail["created_at"].replace("Z", "+00:00"))
        if (datetime.now(UTC) - created).total_seconds() < ANSWER_AFTER_S:
            continue
        map_index = ti.get("map_index", -1)
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/{map_index}/hitlDetails"
        api.patch(path, {"chosen_options": [option], "params_input": {"reason": reason}})
        print(f"{dag_id}: answered {ti['task_id']} with {option!r}: {detail.get('subject', '')}", flush=True)
        answered += 1
    return answered


def wait_for_run(
    api: AirflowApi, dag_id: str, run_id: str, timeout: float, answer: tuple[str, str] | None = None
) -> str:
    """Poll the run until it finishes (answering approvals on the way); print each task's state."""
    deadline = time.monotonic() + timeout
    state = "queued"
    while time.monotonic() < deadline:
        state = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
        if state in FINISHED:
            break
        if answer:
            answer_approvals(api, dag_id, run_id, *answer)
        time.sleep(5)
    tasks = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")["task_instances"]
    summary = ", ".join(f"{t['task_id']}={t['state']}" for t in sorted(tasks, key=lambda t: t["task_id"]))
    print(f"{dag_id} {run_id}: {state} ({summary})", flush=True)
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    commands = parser.add_subparsers(dest="command", required=True)
    pools = commands.add_parser("pools", help="create or update the catalog's pools")
    pools.add_argument("catalog", type=Path)
    run = commands.add_parser("run", help="unpause, trigger and wait for matching DAGs")
    run.add_argument("--match", default="train", help="substring of the DAG ids to run")
    run.add_argument("--timeout", type=float, default=5400)
    one = commands.add_parser("trigger", help="unpause, trigger one DAG run and wait for it to succeed")
    one.add_argument("dag_id")
    one.add_argument("--logical-date", help="YYYY-MM-DD (feature DAGs build that partition); default none")
    one.add_argument("--conf", type=json.loads, default={}, help="DAG run conf as JSON")
    one.add_argument("--approve", metavar="REASON", help="answer the run's approvals with Approve")
    one.add_argument("--reject", metavar="REASON", help="answer the run's approvals with Reject")
    one.add_argument("--timeout", type=float, default=3600)
    one.add_argument("--attempts", type=int, default=1, help="new runs to trigger after a failed one, in all")
    args = parser.parse_args()
    api = AirflowApi(
        args.url, os.environ.get("AIRFLOW_USERNAME", "admin"), os.environ.get("AIRFLOW_PASSWORD", "admin")
    )
    if args.command == "pools":
        upsert_pools(api, catalog_pools(args.catalog))
    elif args.command == "run":
        run_dags(api, args.match, args.timeout)
    else:
        answer = (
            ("Approve", args.approve) if args.approve else ("Reject", args.reject) if args.reject else None
        )
        # A logical date names one run: only runs without one are triggered anew.
        attempts = 1 if args.logical_date else args.attempts
        for attempt in range(1, attempts + 1):
            run_id = trigger(api, args.dag_id, args.logical_date, args.conf)
            state = wait_for_run(api, args.dag_id, run_id, args.timeout, answer)
            if state == "success":
                return
            # Airflow on SQLite can lose a task's state between its process and the scheduler ("task
            # state changed externally"); a run that failed that way is worth one more, said loudly.
            print(
                f"WARNING: {args.dag_id} {run_id} ended {state} (attempt {attempt} of {args.attempts})",
                flush=True,
            )
        raise SystemExit(f"{args.dag_id} ended {state} after {args.attempts} attempts (wanted success)")


if __name__ == "__main__":
    sys.exit(main())
