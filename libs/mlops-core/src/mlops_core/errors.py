"""Named failures. Each carries the exit code a CLI should end with."""

from mlops_core.exit_codes import ExitCode


class MlopsError(Exception):
    exit_code: ExitCode = ExitCode.FAILURE


class DataValidationError(MlopsError):
    """Input data is malformed; the message names the file, line and problem."""

    exit_code = ExitCode.INVALID_DATA


class RunNotFoundError(MlopsError):
    """No training run exists for a run key."""


class RegistryError(MlopsError):
    """A registry operation was refused (unknown version, missing reason, ...)."""
