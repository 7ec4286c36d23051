# Deployment: images, Docker end to end, kind cluster (owner: deployment). Included by the Makefile.
IMAGE_PREFIX ?= mlops/
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD)
BASE_IMAGE_LOCAL ?= mlops/base:bookworm-py311
OVERLAY ?= kind
export IMAGE_PREFIX IMAGE_TAG BASE_IMAGE_LOCAL

.PHONY: docker-engine base-image images e2e-docker kind-up deploy e2e-kind kind-down test-deployment

docker-engine:  ## start a Docker engine if none answers (installs Debian's docker.io when missing)
	deploy/docker-engine.sh

base-image: docker-engine  ## local Debian bookworm + python3.11 base image, no registry needed (debootstrap)
	deploy/base-image.sh $(BASE_IMAGE_LOCAL)

# LOCAL_BASE=1 builds on the local base (no registry); BASE_IMAGE=... / AIRFLOW_IMAGE=... override;
# IMAGES="serving mlflow" builds a subset; CNN_VARIANT=cuda builds the CUDA training-cnn image.
images: docker-engine  ## build every image, tagged $(IMAGE_TAG) (LOCAL_BASE=1 without a registry)
	deploy/build-images.sh $(IMAGES)

e2e-docker: $(PLATFORM_VENV)/.stamp $(AIRFLOW_VENV)/.stamp  ## images + MLflow + every training DAG in docker mode + promote + serving over HTTP
	deploy/e2e-docker.sh

kind-up:  ## create the kind cluster (k8s/kind/cluster.yaml); needs privileged containers and a registry
	deploy/kind-up.sh

deploy:  ## load images into kind, apply k8s/overlays/$(OVERLAY), install the Airflow chart
	deploy/deploy.sh

e2e-kind: $(PLATFORM_VENV)/.stamp  ## trigger every training DAG via the Airflow REST API, promote, check serving
	deploy/e2e-kind.sh

kind-down:  ## delete the kind cluster
	kind delete cluster --name $${KIND_CLUSTER:-mlops}

test-deployment: $(PLATFORM_VENV)/.stamp  ## static deployment checks (kustomize, schemas, Pod Security, RBAC, kind, Helm values)
	$(PLATFORM_VENV)/bin/pytest -q tests/deployment

# Local cluster from upstream components (deploy/cluster): host processes, no kind, no registry.
.PHONY: cluster-binaries cluster-up cluster-down cluster-clean cluster-status
cluster-binaries:  ## build (cached by version) the Kubernetes components and etcd from the Go module proxy
	deploy/cluster/build.sh

cluster-up: docker-engine  ## start etcd, control plane, kube-proxy and the cpu/gpu nodes (root; idempotent)
	deploy/cluster/cluster.sh up

cluster-down:  ## stop exactly what cluster-up started, unmount, remove its bridges and cgroups
	deploy/cluster/cluster.sh down

cluster-clean:  ## cluster-down, then remove all its state: the nodes' images, etcd, PKI, volumes (GBs)
	deploy/cluster/cluster.sh clean

cluster-status:  ## each local cluster component's pid and the nodes
	deploy/cluster/cluster.sh status

# e2e-k8s needs the orchestration venv (Airflow on the host) and the service venvs (sample data).
.PHONY: e2e-k8s test-k8s
e2e-k8s: setup docker-engine  ## every DAG as pods on the local cluster (cluster-up, images, overlay local, Airflow on the host)
	deploy/e2e-k8s.sh

# Workload tests read what e2e-k8s left; they skip without it unless MLOPS_REQUIRE_E2E=1 (CI).
K8S_TEST_ARGS ?=
test-k8s: $(PLATFORM_VENV)/.stamp  ## tests/kubernetes against the running local cluster (a missing cluster fails)
	MLOPS_REQUIRE_CLUSTER=1 $(PLATFORM_VENV)/bin/pytest -q tests/kubernetes $(K8S_TEST_ARGS)

# Faults on the live cluster after e2e-k8s (deploy/faults; tests/kubernetes/test_faults.py runs the same
# scenarios): prints fault, what happened, time to recover, data checked. FAULTS=serving,mlflow,... picks.
FAULTS ?=
.PHONY: faults-k8s
faults-k8s: $(PLATFORM_VENV)/.stamp  ## scheduler killed, MLflow pod deleted, gpu kubelet stopped, serving pod evicted: what survived
	$(PLATFORM_VENV)/bin/python -m deploy.faults $(if $(FAULTS),--only $(FAULTS))
