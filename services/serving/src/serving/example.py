"""`mlops-serve-example`: wait for a running server, then print a ready-to-paste curl per model and its answer."""

import json
import shlex
import time
import urllib.error
import urllib.request
from typing import Annotated, Any

import typer

app = typer.Typer(add_completion=False, help=__doc__)


def _send(request: urllib.request.Request | str, timeout: float) -> tuple[int, Any]:
    """Status and JSON body; an HTTP error status is an answer here, not an exception."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _get(url: str) -> tuple[int, Any]:
    return _send(url, timeout=5)


def _post(url: str, body: bytes) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    return _send(urllib.request.Request(url, data=body, headers=headers, method="POST"), timeout=30)


def _wait_ready(url: str, wait_s: float) -> dict[str, str]:
    deadline = time.monotonic() + wait_s
    models: dict[str, str] = {}
    while True:
        try:
            status, body = _get(f"{url}/readyz")
            models = body["models"]
            if status == 200:
                return models
        except (urllib.error.URLError, OSError, KeyError, TypeError):
            pass
        if time.monotonic() > deadline:
            return models
        time.sleep(1)


@app.command()
def example(
    url: Annotated[str, typer.Option(help="Base URL of the serving API.")] = "http://127.0.0.1:8080",
    wait_s: Annotated[float, typer.Option(help="How long to wait for every model to load.")] = 180.0,
    model: Annotated[list[str] | None, typer.Option(help="Only these models (repeatable).")] = None,
) -> None:
    """Print `curl` for each ready model's example request, then the server's answer."""
    url = url.rstrip("/")
    states = _wait_ready(url, wait_s)
    waiting = sorted(name for name, state in states.items() if state != "ready")
    if waiting:
        typer.echo(f"# not loaded after {wait_s:.0f}s (no champion yet?): {', '.join(waiting)}", err=True)
    try:
        _, listing = _get(f"{url}/v1/models")
    except (urllib.error.URLError, OSError) as exc:
        typer.echo(f"error: cannot reach serving at {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    shown = 0
    for entry in listing["models"]:
        if entry["status"] != "ready" or (model and entry["name"] not in model):
            continue
        body = json.dumps(entry["example_request"], separators=(",", ":"))
        endpoint = f"{url}/v1/models/{entry['name']}:predict"
        typer.echo(f"\n# {entry['name']} v{entry['version']} ({entry['runtime']})")
        typer.echo(f"curl -s -X POST {endpoint} -H 'Content-Type: application/json' -d {shlex.quote(body)}")
        status, answer = _post(endpoint, body.encode())
        typer.echo(f"# -> HTTP {status}")
        typer.echo(json.dumps(answer))
        shown += 1
    if shown == 0:
        typer.echo("error: no served model is ready", err=True)
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - console entry point
    app()
