"""LightGBM training workloads (power forecasting, tick direction)."""
