"""Both APIs fuzzed from their own OpenAPI document (schemathesis) against the real server and models.

Every generated request, valid or not, must get an answer within the time limit that is not a 5xx,
has a status the document lists, and fits the document's schema for that status. The run is bounded
(`FUZZ_MAX_EXAMPLES` per operation, 25 by default, four times that for the prediction routes, where the
parsing is; `make fuzz-serving` runs a longer one).
"""

import os
from typing import Any

import hypothesis
import pytest
import schemathesis
from conftest import PLATFORM_MODELS
from schemathesis import checks
from utils.server import RunningServer

from serving.app import create_app
from serving.settings import ServingSettings

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
_BODY_WEIGHT = 4
RESPONSE_TIMEOUT_S = 10.0
# Path parameters the fuzzer draws from: every served model, one unknown one, the served version and others.
_NAMES = [*PLATFORM_MODELS, "no_such_model"]
_VERSIONS = ["1", "2", "0"]
_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,  # requests the schema calls invalid are refused with a 4xx
]


def _narrow_path_parameters(document: dict[str, Any]) -> dict[str, Any]:
    for operation in (op for path in document["paths"].values() for op in path.values()):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                values = _NAMES if parameter["name"] == "name" else _VERSIONS
                parameter["schema"] = {"type": "string", "enum": values}
    return document


def _operations() -> list[tuple[str, str, schemathesis.GenerationMode]]:
    """Every (method, path, mode) of the app's document, read without starting anything.

    Requests that break the schema (negative mode) exist only where there is something to break.
    """
    app = create_app(ServingSettings(models=PLATFORM_MODELS), client=None)  # type: ignore[arg-type]
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            modes = [schemathesis.GenerationMode.POSITIVE]
            if operation.get("parameters") or operation.get("requestBody"):
                modes.append(schemathesis.GenerationMode.NEGATIVE)
            found += [(method.upper(), path, mode) for mode in modes]
    return found


@pytest.fixture(scope="module")
def api_schema(server: RunningServer) -> schemathesis.BaseSchema:
    document = server.http.get("/openapi.json").json()
    loaded = schemathesis.openapi.from_dict(_narrow_path_parameters(document))
    loaded.config.update(base_url=server.url)
    return loaded


@pytest.mark.parametrize(
    ("method", "path", "mode"), _operations(), ids=lambda value: getattr(value, "value", value)
)
def test_no_5xx_no_undocumented_answer_no_hang(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: schemathesis.GenerationMode
) -> None:
    operation = api_schema[path][method]
    examples = MAX_EXAMPLES * (_BODY_WEIGHT if method == "POST" else 1)

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=_CHECKS, timeout=RESPONSE_TIMEOUT_S)

    fuzz()
