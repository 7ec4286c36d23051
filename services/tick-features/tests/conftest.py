"""One local SparkSession for the whole test session, and small generated tick sets."""

from collections.abc import Iterator
from datetime import date

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from tick_features.defects import PlantedTick, plant_defects
from tick_features.generate import GeneratorConfig, generate_days, write_partition
from tick_features.layout import TickPaths
from tick_features.session import resolve_session_spec, start_session

FIRST_DAY = date(2024, 3, 4)
TEST_CONF = [
    "spark.sql.shuffle.partitions=2",
    "spark.default.parallelism=2",
    "spark.ui.enabled=false",
    "spark.driver.memory=1g",
    "spark.sql.adaptive.coalescePartitions.enabled=true",
]


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = start_session(
        resolve_session_spec("local[2]", TEST_CONF, environ={}), app_name="tick-features-tests"
    )
    yield session
    session.stop()


def generated_day_tables(
    days: int, symbols: int, ticks_per_day: int, seed: int
) -> list[tuple[date, pa.Table]]:
    config = GeneratorConfig(symbols=symbols, ticks_per_day=ticks_per_day, seed=seed)
    return list(generate_days(FIRST_DAY, days, config))


def write_days(paths: TickPaths, tables: list[tuple[date, pa.Table]]) -> None:
    for day, table in tables:
        write_partition(paths.raw, day, table)


@pytest.fixture(scope="session")
def planted_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[TickPaths, dict[date, list[PlantedTick]]]:
    """Two generated days with every kind of bad tick planted (not yet rolled up)."""
    paths = TickPaths.under(tmp_path_factory.mktemp("planted"))
    planted: dict[date, list[PlantedTick]] = {}
    for offset, (day, table) in enumerate(
        generated_day_tables(days=2, symbols=6, ticks_per_day=30_000, seed=11)
    ):
        dirty, planted[day] = plant_defects(table, per_kind=3, seed=offset)
        write_partition(paths.raw, day, dirty)
    return paths, planted
