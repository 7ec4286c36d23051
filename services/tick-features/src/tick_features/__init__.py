"""Tick data: generator, schema, PySpark rollup to 1-minute bars and features, manifests."""
