"""Test helpers: a real MLflow tracking server on loopback (never a mock)."""

from mlops_core.testing.server import MlflowServer, free_port

__all__ = ["MlflowServer", "free_port"]
