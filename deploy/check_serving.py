"""Check a running serving endpoint end to end: every configured model is loaded at its champion
version and answers its own example request with one prediction per input row.

Usage: python3 deploy/check_serving.py http://127.0.0.1:8080 [--expect-models a,b] [--wait 300]
Stdlib only, so it runs with any python3 (CI host, a laptop, a kind e2e).
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any


def call(url: str, body: dict[str, Any] | None = None, timeout: float = 30) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_ready(base: str, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        try:
            status, last = call(f"{base}/readyz", timeout=5)
            if status == 200:
                return last
        except OSError as error:
            last = str(error)
        time.sleep(3)
    raise SystemExit(f"serving at {base} not ready after {seconds:.0f}s: {last}")


def rows_in(request: dict[str, Any]) -> int:
    return len(request.get("records") or request.get("images") or [])


def check_model(base: str, model: dict[str, Any]) -> str:
    name, version = model["name"], model.get("version")
    if model.get("status") != "loaded" and version is None:
        raise SystemExit(f"{name}: not loaded: {model}")
    if version != model.get("champion_version"):
        raise SystemExit(f"{name}: serves v{version} but champion is v{model.get('champion_version')}")
    example = model.get("example_request")
    if not example:
        raise SystemExit(f"{name}: serving published no example request to check with")
    status, answer = call(f"{base}/v1/models/{name}:predict", example)
    if status != 200:
        raise SystemExit(f"{name}: predict answered {status}: {answer}")
    if answer.get("version") != version or len(answer.get("predictions", [])) != rows_in(example):
        raise SystemExit(f"{name}: unexpected answer for {rows_in(example)} rows: {answer}")
    return f"{name} v{version}: {rows_in(example)} rows -> {json.dumps(answer['predictions'])[:80]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--expect-models", default="", help="comma-separated names that must be served")
    parser.add_argument("--wait", type=float, default=300, help="seconds to wait for /readyz")
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    wait_ready(base, args.wait)
    status, health = call(f"{base}/healthz")
    if status != 200:
        raise SystemExit(f"/healthz answered {status}: {health}")
    _, listing = call(f"{base}/v1/models")
    models = listing["models"]
    missing = {m for m in args.expect_models.split(",") if m} - {m["name"] for m in models}
    if missing:
        raise SystemExit(f"serving does not serve {sorted(missing)}")
    for model in models:
        print(f"ok  {check_model(base, model)}")
    print(f"serving check passed: {len(models)} models at {base}")


if __name__ == "__main__":
    sys.exit(main())
