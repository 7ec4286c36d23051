"""Bounded waits: every wait names what it waited for when it gives up."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    pass


def wait_for(condition: Callable[[], T], timeout: float, what: str, interval: float = 2.0) -> T:
    """The first truthy value of `condition()`, polled every `interval` s; WaitTimeout after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if value := condition():
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


class Clock:
    """Seconds since a fault was injected."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.start
