"""The current champion, evaluated on the candidate's own test set (ONNX Runtime, as served)."""

from dataclasses import dataclass

import mlflow.onnx
import numpy as np
from mlflow.tracking import MlflowClient

from mlops_core.errors import MlopsError
from mlops_core.logs import get_logger
from mlops_core.naming import TrackingNames
from mlops_core.release import champion_model_uri
from training_cnn.evaluate import accuracy
from training_cnn.export import OnnxClassifier

log = get_logger(__name__)


@dataclass(frozen=True)
class ChampionScore:
    version: str
    accuracy: float


def evaluate_champion(
    client: MlflowClient, names: TrackingNames, images: np.ndarray, labels: np.ndarray
) -> ChampionScore | None:
    found = champion_model_uri(client, names)
    if found is None:
        log.info("no champion yet", model=names.registered_model)
        return None
    uri, version = found
    try:
        predicted = OnnxClassifier(mlflow.onnx.load_model(uri)).predict(images)
    except Exception as exc:  # an incompatible champion must stop the release, with the reason
        raise MlopsError(f"could not evaluate champion {uri} on this test set: {exc}") from exc
    score = ChampionScore(version=version, accuracy=accuracy(predicted, labels))
    log.info(
        "evaluated champion", model=names.registered_model, version=version, accuracy=round(score.accuracy, 4)
    )
    return score
