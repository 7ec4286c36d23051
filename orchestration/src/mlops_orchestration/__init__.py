"""Workload catalog, DAG factory and launchers (local, docker, kubernetes) built from one task spec."""
