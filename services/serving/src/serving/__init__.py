"""Model serving: the champion version of each registered model over HTTP."""
