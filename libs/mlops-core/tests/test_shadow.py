"""Shadow-traffic evidence: what the approver reads, what promotion records (against a real MLflow)."""

import itertools
import json

import mlflow
import pytest

from mlops_core.naming import Tag
from mlops_core.registry import promote
from mlops_core.shadow import (
    SUMMARY_TAG,
    ShadowUnavailable,
    describe,
    evidence_tags,
    fetch_summary,
    select_pair,
    shadow_tags,
)
from mlops_core.testing import free_port
from mlops_core.tracking import connect

PAIR = {
    "champion_version": "1",
    "challenger_version": "2",
    "since": "2026-01-02T03:04:05+00:00",
    "mirrored": 120,
    "answered": 118,
    "errors": 2,
    "dropped": 5,
    "rows": 400,
    "last_error": "RuntimeError: boom",
    "challenger_latency_ms": {"mean": 1.2, "p50": 1.0, "p90": 2.0, "p99": 3.5, "max": 9.0},
    "agreement": {"task": "binary_classification", "same_class_rate": 0.9425,
                  "abs_diff": {"mean": 0.03, "p50": 0.02, "p90": 0.07, "p99": 0.2, "max": 0.4}},
}  # fmt: skip
SUMMARY = {
    "model": "tick_model",
    "enabled": True,
    "champion_version": "1",
    "challenger": {"version": "2", "run_id": "r"},
    "pairs": [PAIR, {**PAIR, "champion_version": "0", "mirrored": 7}],
}
_counter = itertools.count()


def test_the_approver_reads_the_numbers_that_matter() -> None:
    text = describe(PAIR)
    assert "challenger v2 beside champion v1" in text
    assert "requests mirrored: 120 (400 rows); errors: 2; dropped (challenger too slow): 5" in text
    assert "same class as the champion: 0.9425" in text
    assert "p99 0.2" in text and "p99 3.5 ms" in text and "RuntimeError: boom" in text


def test_the_pair_asked_for_is_the_one_beside_the_current_champion() -> None:
    assert select_pair(SUMMARY, "challenger")["mirrored"] == 120
    assert select_pair(SUMMARY, "2")["champion_version"] == "1"
    with pytest.raises(ShadowUnavailable, match="no shadow traffic recorded for version 3"):
        select_pair(SUMMARY, "3")
    with pytest.raises(ShadowUnavailable, match="no challenger loaded"):
        select_pair({**SUMMARY, "challenger": None}, "challenger")


def test_tags_carry_the_headline_numbers_and_the_whole_pair() -> None:
    tags = shadow_tags(PAIR)
    assert tags["mlops.shadow.same_class_rate"] == "0.9425" and tags["mlops.shadow.errors"] == "2"
    assert tags["mlops.shadow.latency_p99_ms"] == "3.5" and tags["mlops.shadow.abs_diff_p99"] == "0.2"
    assert json.loads(tags[SUMMARY_TAG]) == PAIR


def test_evidence_is_what_the_approver_saw_or_says_why_it_is_missing() -> None:
    shown = json.dumps(PAIR)
    assert evidence_tags("tick_model", "2", shown, None) == shadow_tags(PAIR)
    assert evidence_tags("tick_model", "3", shown, None)[SUMMARY_TAG].startswith("unavailable: ")
    assert evidence_tags("tick_model", "2", "{not json", None)[SUMMARY_TAG].startswith("unavailable: ")
    assert evidence_tags("tick_model", "2", "null", None) == {}
    nobody = f"http://127.0.0.1:{free_port()}"
    missing = evidence_tags("tick_model", "2", None, nobody)
    assert missing[SUMMARY_TAG].startswith(f"unavailable: serving at {nobody} did not answer")
    with pytest.raises(ShadowUnavailable):
        fetch_summary(nobody, "tick_model", timeout_s=1)


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input: list[float]) -> list[float]:
        return model_input


def test_promotion_records_the_evidence_next_to_who_and_why(tracking_uri: str) -> None:
    client = connect(tracking_uri)
    name = f"shadowed_{next(_counter)}"
    with mlflow.start_run():
        uri = mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=[]).model_uri
    for _ in range(2):
        mlflow.register_model(uri, name)

    promote(client, name, "2", actor="carol", reason="shadow looks good", evidence=shadow_tags(PAIR))

    tags = client.get_model_version(name, "2").tags
    assert tags[Tag.PROMOTED_BY] == "carol" and tags["mlops.shadow.mirrored"] == "120"
    assert json.loads(tags[SUMMARY_TAG])["agreement"]["same_class_rate"] == 0.9425
