"""CNN training workloads: MNIST and CIFAR-10."""
