"""Shared conventions for every training workload: names, lineage, run keys, release gate, registry."""
