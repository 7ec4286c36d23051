"""The Open Inference Protocol (KServe V2) over REST: request parsing, per-model tensors, responses."""
