from datetime import date
from pathlib import Path

import pytest

from training_lgbm.power.sample import SampleSpec, write_sample


@pytest.fixture(scope="session")
def power_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five weeks of minute readings in the UCI format (enough for the weekly lag and three splits)."""
    path = tmp_path_factory.mktemp("power") / "household_power_consumption.txt"
    return write_sample(path, SampleSpec(start=date(2007, 1, 1), days=35, seed=3, outages=4))
