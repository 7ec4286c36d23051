"""A preempted training run restarts with --resume and finishes with the uninterrupted run's weights."""

from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from mlops_core.gate import GateThresholds
from mlops_core.naming import Tag
from training_cnn.checkpoints import CheckpointStore
from training_cnn.data import ImageSplits
from training_cnn.datasets import DatasetName
from training_cnn.pipeline import TrainRequest, run_training
from training_cnn.train import EpochResult, Trainer, fit, new_model

from .conftest import tiny_config


class Preempted(Exception):
    pass


def test_resume_after_preemption_matches_uninterrupted_training(
    mnist_dir: Path, mnist_splits: ImageSplits, tracking_uri: str, tmp_path: Path
) -> None:
    config = tiny_config("mnist", epochs=2, width=4)
    request = TrainRequest(
        dataset=DatasetName.MNIST,
        data_dir=mnist_dir,
        config=config,
        device=torch.device("cpu"),
        checkpoint_root=tmp_path,
        thresholds=GateThresholds(metric="accuracy", greater_is_better=True, min_value=0.0),
        resume=True,
        run_key="resume/e2e:1",
        release=False,
    )

    def preempt_after_first_epoch(result: EpochResult, replayed: bool) -> None:
        if result.epoch == 1 and not replayed:
            raise Preempted

    with pytest.raises(Preempted):
        run_training(request, on_epoch_end=preempt_after_first_epoch)
    summary = run_training(request)
    assert "gate=deferred" in summary.line()

    client = MlflowClient(tracking_uri)
    run = client.get_run(summary.run_id)
    assert run.data.tags["mlops.resumed_from_epoch"] == "1"
    assert sorted(m.step for m in client.get_metric_history(summary.run_id, "train_loss")) == [1, 2]
    attempts = client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.`{Tag.RUN_KEY}` = 'resume/e2e:1'"
    )
    first = next(r for r in attempts if r.info.run_id != summary.run_id)
    assert first.data.tags[Tag.SUPERSEDED_BY] == summary.run_id and first.info.status == "FAILED"

    uninterrupted = Trainer(new_model(mnist_splits, config), mnist_splits, config, torch.device("cpu"))
    fit(uninterrupted, "unused")
    final = CheckpointStore.for_run(tmp_path, "mnist", "resume/e2e:1").load_latest()
    assert final is not None and final["epoch"] == 2
    for key, value in uninterrupted.model.state_dict().items():
        assert torch.equal(final["model"][key], value), key
