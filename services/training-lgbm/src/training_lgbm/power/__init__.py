"""Household power forecasting: UCI loader, hourly features, LightGBM, seasonal-naive baseline."""
