"""Print a request body for `POST /v1/models/<name>:predict` built from the champion's logged input example.

Usage (platform venv): python scripts/demo_request.py power_lgbm
"""

import json
import sys
import tempfile
from pathlib import Path

import mlflow


def request_body(model_name: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(
            mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{model_name}@champion", dst_path=tmp)
        )
        example = json.loads((local / "serving_input_example.json").read_text())
    split = example["dataframe_split"]
    return {"records": [dict(zip(split["columns"], row, strict=True)) for row in split["data"][:1]]}


if __name__ == "__main__":
    print(json.dumps(request_body(sys.argv[1])))
