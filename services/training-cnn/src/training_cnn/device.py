"""Where training runs: CUDA when present (or asked for), else CPU; and whether the data fits there."""

import torch
import typer

# Keep this share of free GPU memory for activations, weights and the optimizer.
DATA_MEMORY_SHARE = 0.5


def resolve_device(requested: str) -> torch.device:
    """`auto` -> cuda when available, else cpu. Asking for `cuda` without a GPU is a usage error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise typer.BadParameter(
            f"{requested!r} requested but torch {torch.__version__} sees no CUDA device "
            "(CPU-only build or no GPU visible); use --device auto or --device cpu",
            param_hint="--device",
        )
    return torch.device(requested)


def data_fits_on(device: torch.device, nbytes: int) -> bool:
    """Whether a dataset of `nbytes` can live on `device` for the whole run (always true on CPU)."""
    if device.type != "cuda":
        return True
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes <= free * DATA_MEMORY_SHARE
