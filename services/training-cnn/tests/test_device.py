from pathlib import Path

import pytest
import torch
import typer

from training_cnn.device import cgroup_cpu_quota, configure_cpu_threads, data_fits_on, resolve_device


def test_auto_and_cpu() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert data_fits_on(torch.device("cpu"), 10**12)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu_fails_clearly() -> None:
    with pytest.raises(typer.BadParameter, match="sees no CUDA device"):
        resolve_device("cuda")


def test_cgroup_quota_rounds_up_and_unlimited_is_none(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")
    assert cgroup_cpu_quota(cpu_max) == 2
    cpu_max.write_text("max 100000\n")
    assert cgroup_cpu_quota(cpu_max) is None
    assert cgroup_cpu_quota(tmp_path / "missing") is None


def test_explicit_thread_count_is_applied() -> None:
    before = torch.get_num_threads()
    try:
        assert configure_cpu_threads(1) == 1
    finally:
        torch.set_num_threads(before)
