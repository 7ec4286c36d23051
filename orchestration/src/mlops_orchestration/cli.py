"""`mlops-airflow`: catalog utilities (validate, pools as JSON for `airflow pools import`)."""

import argparse
import json
import sys
from pathlib import Path

from mlops_orchestration.catalog import CatalogError, load_catalog

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "dags" / "catalog.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops-airflow", description=__doc__)
    parser.add_argument("command", choices=["validate", "pools"])
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    args = parser.parse_args(argv)
    try:
        catalog = load_catalog(args.catalog)
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "validate":
        print(f"ok: {len(catalog.workloads)} workloads in {args.catalog}")
    else:
        pools = {
            name: {
                "slots": pool.slots,
                "description": pool.description,
                "include_deferred": pool.include_deferred,
            }
            for name, pool in catalog.pools.items()
        }
        print(json.dumps(pools, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
