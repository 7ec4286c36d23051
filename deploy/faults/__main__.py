"""make faults-k8s: inject each fault into the live local cluster (after make e2e-k8s), check that it is
survived with nothing lost, print the table. python -m deploy.faults [--only serving,mlflow,...]"""

import argparse
import sys

from deploy.faults.report import FaultResult, table
from deploy.faults.session import SCENARIOS, WITH_AIRFLOW, fault_session


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma-separated, from {', '.join(SCENARIOS)}"
    )
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown faults {unknown}; choose from {', '.join(SCENARIOS)}")
    results: list[FaultResult] = []
    failures: list[str] = []
    with fault_session(with_airflow=bool(set(chosen) & set(WITH_AIRFLOW))) as session:
        for name in chosen:
            print(f"fault {name}: injecting", flush=True)
            try:
                results.append(session.run(name))
            except AssertionError as error:
                failures.append(f"{name}: {error}")
                print(f"fault {name}: NOT SURVIVED: {error}", flush=True)
    print(table(results))
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
