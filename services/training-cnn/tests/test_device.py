import pytest
import torch
import typer

from training_cnn.device import data_fits_on, resolve_device


def test_auto_and_cpu() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert data_fits_on(torch.device("cpu"), 10**12)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu_fails_clearly() -> None:
    with pytest.raises(typer.BadParameter, match="sees no CUDA device"):
        resolve_device("cuda")
