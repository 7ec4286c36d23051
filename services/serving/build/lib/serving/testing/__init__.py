"""Helpers for tests and the benchmark: tiny but real models, logged the way training logs them.

Needs the `test` (or `bench`) extra: onnx to build graphs, pandas for MLflow input examples.
"""
