"""The tick-direction workload: LightGBM over a rolling window of 1-minute feature partitions."""
