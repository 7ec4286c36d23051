"""Faults on the live local cluster, survived with nothing lost (make faults-k8s; tests/kubernetes/
test_faults.py runs the same scenarios): the Airflow scheduler killed while a training pod runs, MLflow's
pod deleted mid-training, the gpu node's kubelet stopped under a CNN pod, a serving pod evicted under load.
Each scenario returns one row of the table: fault, what happened, time to recover, data checked."""
