"""The challenger's shadow-traffic evidence, from serving to the approver and onto the promoted version.

Serving (with shadowing on) answers `GET /v1/models/{name}/shadow`: per (champion, challenger) version
pair, requests mirrored, errors, agreement and challenger latency. The `promote_model` DAG shows the pair
of the version asked for to the approver; `mlops promote` records it on that version as `mlops.shadow.*`
tags. Serving being unreachable or not shadowing is not an error: the evidence is then "unavailable".
"""

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from mlops_core.naming import CHALLENGER

SERVING_URL_ENV = "MLOPS_SERVING_URL"
TAG_PREFIX = "mlops.shadow."
SUMMARY_TAG = f"{TAG_PREFIX}summary"
_MAX_TAG_VALUE = 4500  # MLflow model-version tag values are limited to 5000 characters


class ShadowUnavailable(Exception):
    """Serving cannot say how the challenger behaved (unreachable, not shadowing, no such pair)."""


def fetch_summary(serving_url: str, model: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """Serving's shadow summary for `model` (raises ShadowUnavailable when there is none)."""
    url = f"{serving_url.rstrip('/')}/v1/models/{urllib.parse.quote(model)}/shadow"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            summary = json.loads(response.read())
    except (OSError, ValueError) as exc:  # URLError/HTTPError are OSErrors; ValueError: not JSON
        raise ShadowUnavailable(f"serving at {serving_url} did not answer ({exc})") from None
    if not summary.get("enabled"):
        raise ShadowUnavailable(f"serving does not shadow {model} (SERVING_SHADOW_MODELS)")
    return summary


def select_pair(summary: dict[str, Any], version: str) -> dict[str, Any]:
    """The evidence for `version` (a number, or 'challenger' for the challenger serving has loaded)."""
    if version == CHALLENGER:
        loaded = summary.get("challenger") or {}
        if not loaded.get("version"):
            raise ShadowUnavailable("serving has no challenger loaded")
        version = str(loaded["version"])
    pairs = [p for p in summary.get("pairs", []) if p.get("challenger_version") == version]
    current = [p for p in pairs if p.get("champion_version") == summary.get("champion_version")]
    if not (current or pairs):
        raise ShadowUnavailable(f"no shadow traffic recorded for version {version}")
    return (current or pairs)[0]


def _number(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def describe(pair: dict[str, Any]) -> str:
    """A few lines an approver can read (Markdown)."""
    agreement = pair.get("agreement") or {}
    latency = pair.get("challenger_latency_ms") or {}
    lines = [
        f"**Shadow traffic** (challenger v{pair['challenger_version']} beside champion "
        f"v{pair['champion_version']}, since {pair.get('since', '?')}):",
        f"- requests mirrored: {pair.get('mirrored', 0)} ({pair.get('rows', 0)} rows); errors: "
        f"{pair.get('errors', 0)}; dropped (challenger too slow): {pair.get('dropped', 0)}",
    ]
    if "same_class_rate" in agreement:
        lines.append(f"- same class as the champion: {_number(agreement['same_class_rate'])}")
    if agreement.get("abs_diff"):
        diff = agreement["abs_diff"]
        lines.append(
            f"- |challenger - champion|: mean {_number(diff['mean'])}, p50 {_number(diff['p50'])}, "
            f"p99 {_number(diff['p99'])}, max {_number(diff['max'])}"
        )
    if latency:
        lines.append(
            f"- challenger latency: p50 {_number(latency['p50'])} ms, p99 {_number(latency['p99'])} ms"
        )
    if pair.get("last_error"):
        lines.append(f"- last error: {pair['last_error']}")
    return "\n".join(lines)


def shadow_tags(pair: dict[str, Any]) -> dict[str, str]:
    """`mlops.shadow.*` tags for a pair: the headline numbers, and the whole pair as JSON."""
    agreement = pair.get("agreement") or {}
    latency = pair.get("challenger_latency_ms") or {}
    diff = agreement.get("abs_diff") or {}
    values = {
        "champion_version": pair.get("champion_version"),
        "since": pair.get("since"),
        "mirrored": pair.get("mirrored"),
        "errors": pair.get("errors"),
        "dropped": pair.get("dropped"),
        "rows": pair.get("rows"),
        "same_class_rate": agreement.get("same_class_rate"),
        "abs_diff_mean": diff.get("mean"),
        "abs_diff_p99": diff.get("p99"),
        "latency_p99_ms": latency.get("p99"),
    }
    tags = {f"{TAG_PREFIX}{key}": str(value) for key, value in values.items() if value is not None}
    tags[SUMMARY_TAG] = json.dumps(pair, separators=(",", ":"), sort_keys=True)[:_MAX_TAG_VALUE]
    return tags


def unavailable_tags(reason: str) -> dict[str, str]:
    return {SUMMARY_TAG: f"unavailable: {reason}"[:_MAX_TAG_VALUE]}


def evidence_tags(model: str, version: str, shown: str | None, serving_url: str | None) -> dict[str, str]:
    """Tags for promoting `model` v`version`: the pair the approver was `shown` (JSON), else serving's now.

    Nothing to go on gives no tags; evidence that cannot be had is recorded as unavailable, with why.
    """
    if shown is not None and shown.strip() not in ("", "null", "None"):
        try:
            pair = json.loads(shown)
        except ValueError as exc:
            return unavailable_tags(f"the shadow summary passed in is not JSON ({exc})")
        if not isinstance(pair, dict) or str(pair.get("challenger_version")) != version:
            return unavailable_tags(f"the shadow summary passed in is not about version {version}")
        return shadow_tags(pair)
    if serving_url:
        try:
            return shadow_tags(select_pair(fetch_summary(serving_url, model), version))
        except ShadowUnavailable as exc:
            return unavailable_tags(str(exc))
    return {}
