"""Team roles and users for Airflow's FAB auth manager, from the workload catalog's `teams`.

Run with the orchestration venv and the same AIRFLOW_HOME / AIRFLOW__CORE__AUTH_MANAGER as the Airflow
it sets up, after `airflow db migrate` and before the dag-processor first writes the DAGs (it syncs each
DAG's `access_control` when it writes it, and refuses a DAG whose team role does not exist yet):

    orchestration/.venv/bin/python orchestration/scripts/airflow_access.py --passwords .run/airflow-users.json

What it does, idempotently (safe to re-run; `make airflow-up` runs it every time):
1. Built-in roles and their permissions (what `airflow sync-perm` does).
2. One role per team (catalog `teams.<name>.role`) holding only TEAM_UI_PERMISSIONS: the Viewer role
   without the global "can_read on DAGs" (which would show every DAG), plus editing task instances and
   runs. Each of those still needs the DAG's own permission, and a team gets that only from the DAG's
   `access_control` (DAG-specific permissions are left as they are here).
3. Users: `admin` (Admin role) and one per team (user name = team name, role = the team's role).
   Passwords come from MLOPS_AIRFLOW_PASSWORD_<USER> when set, else from the passwords file, else they
   are generated, written to that file (mode 600) and printed once.
4. DAG-level permissions from every DAG already serialized in the DB (`airflow sync-perm --include-dags`),
   so a database whose DAGs were parsed before the roles existed is repaired too.
"""

import argparse
import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_orchestration.catalog import Catalog, CatalogError, load_catalog
from mlops_orchestration.cli import DEFAULT_CATALOG

ADMIN_USER = "admin"
PASSWORD_ENV_PREFIX = "MLOPS_AIRFLOW_PASSWORD_"

# Team users may operate (clear, mark) task instances and runs, but only of DAGs whose access_control
# grants their role can_edit: FAB checks the DAG's own permission on top of these global ones.
TEAM_OPERATE_PERMISSIONS = {("can_edit", "Task Instances"), ("can_edit", "DAG Runs")}


@dataclass(frozen=True)
class Account:
    username: str
    role: str


def accounts(catalog: Catalog) -> list[Account]:
    return [Account(ADMIN_USER, "Admin"), *(Account(name, team.role) for name, team in catalog.teams.items())]


def password_env_var(username: str) -> str:
    return PASSWORD_ENV_PREFIX + username.upper().replace("-", "_")


def resolve_passwords(usernames: list[str], path: Path) -> tuple[dict[str, str], list[str]]:
    """Password per user (env, then file, then generated into the file); also the generated names."""
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    passwords: dict[str, str] = {}
    generated: list[str] = []
    for username in usernames:
        from_env = os.environ.get(password_env_var(username))
        if from_env:
            passwords[username] = from_env
        elif username in stored:
            passwords[username] = stored[username]
        else:
            passwords[username] = stored[username] = secrets.token_urlsafe(18)
            generated.append(username)
    if generated:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle, indent=2, sort_keys=True)
    return passwords, generated


def team_ui_permissions(security_manager: Any) -> set[tuple[str, str]]:
    from airflow.providers.fab.www.security import permissions

    viewer = set(security_manager.VIEWER_PERMISSIONS)
    viewer.discard((permissions.ACTION_CAN_READ, permissions.RESOURCE_DAG))
    return viewer | TEAM_OPERATE_PERMISSIONS


def is_dag_specific(resource: str) -> bool:
    from airflow.providers.fab.www.security import permissions

    return resource.startswith(tuple(permissions.PREFIX_LIST))


def sync_team_role(security_manager: Any, name: str, wanted: set[tuple[str, str]]) -> None:
    """Make the role's non-DAG permissions exactly `wanted`; its DAG-specific ones stay untouched."""
    role = security_manager.find_role(name) or security_manager.add_role(name)
    held = {(p.action.name, p.resource.name): p for p in role.permissions}
    for action, resource in sorted(wanted - held.keys()):
        security_manager.add_permission_to_role(role, security_manager.create_permission(action, resource))
    for (action, resource), permission in held.items():
        if (action, resource) not in wanted and not is_dag_specific(resource):
            security_manager.remove_permission_from_role(role, permission)


def sync_user(security_manager: Any, account: Account, password: str) -> str:
    from werkzeug.security import check_password_hash

    role = security_manager.find_role(account.role)
    if role is None:
        raise SystemExit(f"role {account.role!r} for user {account.username!r} does not exist")
    user = security_manager.find_user(username=account.username)
    if user is None:
        created = security_manager.add_user(
            account.username,
            account.username,
            "user",
            f"{account.username}@airflow.localhost",
            role,
            password,
        )
        if not created:
            raise SystemExit(f"could not create Airflow user {account.username!r} (see the log above)")
        return "created"
    if [r.name for r in user.roles] != [account.role]:
        user.roles = [role]
        security_manager.update_user(user)
    if not check_password_hash(user.password, password):
        security_manager.reset_password(user.id, password)
        return "password reset"
    return "unchanged"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    parser.add_argument("--passwords", type=Path, required=True, help="JSON file of generated passwords")
    args = parser.parse_args(argv)
    try:
        catalog = load_catalog(args.catalog)
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 2
    if "FabAuthManager" not in os.environ.get("AIRFLOW__CORE__AUTH_MANAGER", ""):
        print("AIRFLOW__CORE__AUTH_MANAGER must name the FAB auth manager", file=sys.stderr)
        return 2

    # FAB logs every permission it creates; keep this command's output to its summary.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    team_accounts = accounts(catalog)
    passwords, generated = resolve_passwords([a.username for a in team_accounts], args.passwords)
    with get_application_builder() as appbuilder:
        security_manager = appbuilder.sm
        appbuilder.add_permissions(update_perms=True)
        security_manager.sync_roles()
        ui_permissions = team_ui_permissions(security_manager)
        for team in catalog.teams.values():
            sync_team_role(security_manager, team.role, ui_permissions)
        outcomes = {a.username: sync_user(security_manager, a, passwords[a.username]) for a in team_accounts}
        security_manager.create_dag_specific_permissions()

    roles = ", ".join(sorted(t.role for t in catalog.teams.values()))
    print(f"team roles: {roles} ({len(ui_permissions)} UI permissions each, DAG access from access_control)")
    for account in team_accounts:
        print(f"user {account.username:<8} role {account.role:<8} {outcomes[account.username]}")
    if generated:
        print(f"generated passwords (kept in {args.passwords}, shown once):")
        for username in generated:
            print(f"  {username}: {passwords[username]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
