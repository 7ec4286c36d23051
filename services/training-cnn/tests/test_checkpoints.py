from pathlib import Path

import torch

from training_cnn.checkpoints import CheckpointStore, sanitize_run_key


def test_run_key_becomes_one_safe_path_component(tmp_path: Path) -> None:
    assert sanitize_run_key("train_mnist/manual__2026-01-01T00:00:00+00:00") == (
        "train_mnist_manual__2026-01-01T00_00_00_00_00"
    )
    assert sanitize_run_key("../..") == "run"
    store = CheckpointStore.for_run(tmp_path, "mnist", "a/b")
    assert store.directory == tmp_path / "mnist" / "a_b"


def test_keeps_the_last_checkpoints_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, keep_last=2)
    for epoch in (1, 2, 3):
        store.save(epoch, {"epoch": epoch, "weights": torch.full((2,), float(epoch))})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-002.pt", "epoch-003.pt"]
    latest = store.load_latest()
    assert latest is not None and latest["epoch"] == 3


def test_damaged_latest_falls_back_to_previous(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, keep_last=3)
    store.save(1, {"epoch": 1})
    store.save(2, {"epoch": 2})
    store.path_for(3).write_bytes(b"not a checkpoint")  # e.g. a copy cut short outside our atomic writer
    (tmp_path / ".epoch-004.pt.99.tmp").write_bytes(b"partial")  # a writer killed mid-write
    latest = store.load_latest()
    assert latest is not None and latest["epoch"] == 2


def test_nothing_to_resume(tmp_path: Path) -> None:
    assert CheckpointStore(tmp_path / "missing").load_latest() is None
