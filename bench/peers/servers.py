"""How each server is started and spoken to: the command, its requests per case, reading its answers.

A case is a model and a batch size: `power/1`, `power/64` (feature rows), `mnist/1`, `mnist/32` (images).
Every server gets the same rows and images, in its own API's format, and its answers are read back into
one form (regression values, or class probabilities) so the benchmark can check they all agree.
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PEERS_DIR = Path(__file__).resolve().parent
# Every server gets one CPU thread for its model calls.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Inputs:
    """What every server is sent: feature rows (booster order) and images (N×28×28 of 0..255)."""

    features: list[str]
    rows: np.ndarray
    pixels: np.ndarray
    hour_index: int

    def records(self, n: int) -> list[dict[str, float | int]]:
        out = []
        for row in self.rows[:n]:
            record: dict[str, float | int] = dict(zip(self.features, row.tolist(), strict=True))
            record["hour"] = int(record["hour"])
            out.append(record)
        return out

    def unit_images(self, n: int) -> np.ndarray:
        """N×1×28×28 float32 in [0, 1], computed as serving computes it from 0..255."""
        return (self.pixels[:n, None].astype(np.float32) * np.float32(1.0 / 255.0)).astype(np.float32)


Parse = Callable[[str, dict], np.ndarray]


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class Server:
    """One server under test. `command` None: an API of a server already started (ours, over V2)."""

    name: str
    port: int
    ready_path: str
    requests: dict[str, tuple[str, dict]]  # case -> (path, body)
    parse: Parse
    command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)


def _case(case: str) -> tuple[str, int]:
    model, size = case.split("/")
    return model, int(size)


# --- ours ----------------------------------------------------------------------------------------


def ours_v1(port: int, inputs: Inputs, cases: list[str], command: list[str]) -> Server:
    requests = {}
    for case in cases:
        model, n = _case(case)
        body = {"records": inputs.records(n)} if model == "power" else {"images": inputs.pixels[:n].tolist()}
        requests[case] = (f"/v1/models/{'power_lgbm' if model == 'power' else 'mnist_cnn'}:predict", body)

    def parse(case: str, answer: dict) -> np.ndarray:
        predictions = answer["predictions"]
        if case.startswith("power"):
            return np.asarray(predictions)
        return np.asarray([p["probabilities"] for p in predictions])

    return Server("mlops-serve", port, "/readyz", requests, parse, command)


def _v2_body(inputs: Inputs, case: str, tensor_name: str, pixels_as: str) -> dict:
    model, n = _case(case)
    if model == "power":
        rows = inputs.rows[:n]
        return {"inputs": [{"name": tensor_name, "datatype": "FP64", "shape": list(rows.shape),
                            "data": rows.ravel().tolist()}]}  # fmt: skip
    if pixels_as == "UINT8":
        data, shape = inputs.pixels[:n].astype(int), [n, 28, 28, 1]
    else:
        data, shape = inputs.unit_images(n).round(6), [n, 1, 28, 28]
    return {
        "inputs": [{"name": "images", "datatype": pixels_as, "shape": shape, "data": data.ravel().tolist()}]
    }


def _v2_output(answer: dict, name: str) -> np.ndarray:
    output = next(o for o in answer["outputs"] if o["name"] == name)
    return np.asarray(output["data"], dtype=np.float64).reshape(output["shape"])


def ours_v2(port: int, inputs: Inputs, cases: list[str]) -> Server:
    requests = {}
    for case in cases:
        model = "power_lgbm" if case.startswith("power") else "mnist_cnn"
        requests[case] = (f"/v2/models/{model}/infer", _v2_body(inputs, case, "features", "UINT8"))

    def parse(case: str, answer: dict) -> np.ndarray:
        return _v2_output(answer, "prediction" if case.startswith("power") else "probabilities")

    return Server("mlops-serve (V2)", port, "/v2/health/ready", requests, parse)


# --- MLServer ------------------------------------------------------------------------------------


def mlserver(
    port: int, inputs: Inputs, cases: list[str], models: dict[str, Path], work: Path, batching: bool
) -> Server | None:
    """MLServer 1.x: LightGBM runtime for the booster, MLflow runtime for the logged ONNX CNN."""
    binary = PEERS_DIR / "mlserver" / ".venv" / "bin" / "mlserver"
    if not binary.exists():
        return None
    name = "MLServer (adaptive batching)" if batching else "MLServer"
    root = work / name.replace(" ", "-").replace("(", "").replace(")", "")
    runtimes = {"power_lgbm": ("mlserver_lightgbm.LightGBMModel", models["power_file"]),
                "mnist_cnn": ("mlserver_mlflow.MLflowRuntime", models["mnist_dir"])}  # fmt: skip
    for model, (implementation, uri) in runtimes.items():
        settings: dict = {"name": model, "implementation": implementation, "parameters": {"uri": str(uri)}}
        if batching:
            settings |= {"max_batch_size": 64, "max_batch_time": 0.001}
        (root / model).mkdir(parents=True, exist_ok=True)
        (root / model / "model-settings.json").write_text(json.dumps(settings))
    # One process: inference in the server process itself (no extra inference worker pool).
    server_settings = {"http_port": port, "grpc_port": port + 1, "metrics_port": port + 2, "parallel_workers": 0,
                       "host": "127.0.0.1", "debug": False}  # fmt: skip
    (root / "settings.json").write_text(json.dumps(server_settings))
    requests = {}
    for case in cases:
        model = "power_lgbm" if case.startswith("power") else "mnist_cnn"
        requests[case] = (f"/v2/models/{model}/infer", _v2_body(inputs, case, "input-0", "FP32"))

    def parse(case: str, answer: dict) -> np.ndarray:
        if case.startswith("power"):
            return _v2_output(answer, "predict").ravel()
        return softmax(_v2_output(answer, "logits"))

    return Server(
        name, port, "/v2/health/ready", requests, parse, [str(binary), "start", str(root)], dict(ONE_THREAD)
    )


# --- BentoML -------------------------------------------------------------------------------------


def bentoml(port: int, inputs: Inputs, cases: list[str], models: dict[str, Path]) -> Server | None:
    binary = PEERS_DIR / "bentoml" / ".venv" / "bin" / "bentoml"
    if not binary.exists():
        return None
    requests = {}
    for case in cases:
        model, n = _case(case)
        body = {"features": inputs.rows[:n].tolist()} if model == "power" else {
            "images": inputs.unit_images(n).round(6).tolist()}  # fmt: skip
        requests[case] = (f"/{model}", body)

    def parse(case: str, answer: object) -> np.ndarray:
        return np.asarray(answer) if case.startswith("power") else softmax(np.asarray(answer))

    command = [str(binary), "serve", "service:Models", "--working-dir", str(PEERS_DIR / "bentoml"),
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    env = {**ONE_THREAD, "BENCH_POWER_MODEL": str(models["power_file"]),
           "BENCH_MNIST_MODEL": str(models["mnist_dir"] / "model.onnx"), "BENTOML_DO_NOT_TRACK": "true"}  # fmt: skip
    return Server("BentoML", port, "/readyz", requests, parse, command, env)  # type: ignore[arg-type]


# --- mlflow models serve -------------------------------------------------------------------------


def mlflow_serve(port: int, inputs: Inputs, cases: list[str], bin_dir: Path, model: str) -> Server:
    """`mlflow models serve` serves one model per process: one Server per model."""
    requests = {}
    for case in cases:
        name, n = _case(case)
        if (name == "power") != (model == "power_lgbm"):
            continue
        if name == "power":
            records = inputs.records(n)
            body = {
                "dataframe_split": {"columns": inputs.features, "data": [list(r.values()) for r in records]}
            }
        else:
            body = {"inputs": {"images": inputs.unit_images(n).round(6).tolist()}}
        requests[case] = ("/invocations", body)

    def parse(case: str, answer: dict) -> np.ndarray:
        predictions = answer["predictions"]
        return (
            np.asarray(predictions)
            if case.startswith("power")
            else softmax(np.asarray(predictions["logits"]))
        )

    command = [str(bin_dir / "mlflow"), "models", "serve", "-m", f"models:/{model}/1", "--env-manager", "local",
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]  # fmt: skip
    return Server("mlflow models serve", port, "/ping", requests, parse, command, dict(ONE_THREAD))


def path_with(bin_dir: Path) -> str:
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
