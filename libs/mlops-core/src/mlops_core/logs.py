"""Structured logging: JSON lines in containers and CI, aligned key=value on a terminal."""

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import structlog


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is at call time (test runners swap and close it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str | None = None) -> None:
    level_name = (level or os.environ.get("MLOPS_LOG_LEVEL", "INFO")).upper()
    fmt = os.environ.get("MLOPS_LOG_FORMAT", "console" if sys.stderr.isatty() else "json")
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level_name)),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


@contextmanager
def stage(log: structlog.stdlib.BoundLogger, name: str, **fields: object) -> Iterator[None]:
    """Log how long a named step of a job took (`stage=<name> seconds=<s>`)."""
    start = time.perf_counter()
    yield
    log.info("stage done", stage=name, seconds=round(time.perf_counter() - start, 3), **fields)
