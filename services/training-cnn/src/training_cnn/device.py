"""Where training runs: CUDA when present (or asked for), else CPU; and whether the data fits there."""

import math
import os
from pathlib import Path

import torch
import typer

# Keep this share of free GPU memory for activations, weights and the optimizer.
DATA_MEMORY_SHARE = 0.5
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


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


def cgroup_cpu_quota(cpu_max: Path = CGROUP_CPU_MAX) -> int | None:
    """Whole CPUs allowed by a cgroup v2 quota (`<quota> <period>`, rounded up), or None when unlimited."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def configure_cpu_threads(requested: int | None) -> int:
    """Set torch's intra-op threads: as requested, else the container's CPU quota when it has one.

    torch otherwise starts one thread per host core, which in a CPU-limited pod oversubscribes the
    quota and stalls every OpenMP barrier.
    """
    threads = requested or cgroup_cpu_quota()
    if threads:
        torch.set_num_threads(min(threads, os.cpu_count() or threads))
    return torch.get_num_threads()
