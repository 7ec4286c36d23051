#!/usr/bin/env bash
# A local Kubernetes cluster from upstream components run as host processes (no kind, no node
# image, no registry): etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy,
# kube-router (NetworkPolicy enforcement), CoreDNS, and two nodes, `cpu` and `gpu`, each a kubelet with its own containerd, root dir, ports, cgroup
# root and bridge network, labelled and tainted as the catalog's node pools.
#
#   deploy/cluster/cluster.sh up       build (cached) and start whatever is not running; idempotent
#   deploy/cluster/cluster.sh down     stop exactly what `up` started (by pid), unmount, clean up
#   deploy/cluster/cluster.sh status   each component's pid and health
#   deploy/cluster/cluster.sh load IMAGE...  import images from the Docker engine into every node
#
# State, logs and kubeconfigs live in MLOPS_CLUSTER_DIR (default .run/cluster):
#   admin.kubeconfig     cluster admin (system:masters), for the scripts and tests
#   airflow.kubeconfig   ServiceAccount mlops/airflow-worker (the pod-launcher Role of k8s/base)
#   logs/<component>.log, pids/<component>.pid, pki/, nodes/<node>/
# Needs root, containerd, runc, the CNI plugins, iptables, ipset, openssl and a Docker engine (to build
# the sandbox image); deploy/cluster/install-host-packages.sh installs them on Debian.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ROOT=$(repo_root)
DIR=${MLOPS_CLUSTER_DIR:-$ROOT/.run/cluster}
PKI=$DIR/pki
NODES=(cpu gpu)
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1  # the first address of SERVICE_CIDR: Service default/kubernetes
POD_CIDR=10.244.0.0/16
CLUSTER_DNS=10.96.0.10
PAUSE_IMAGE=mlops/pause:local
NAMESPACE=mlops
API=https://127.0.0.1:6443

node_index() { case $1 in cpu) echo 0 ;; gpu) echo 1 ;; *) die "unknown node $1" ;; esac; }
# The address the nodes register and the API server advertises: the default route's source.
node_ip() {
  local dev
  dev=$(ip -4 route show default | awk '{print $5; exit}')
  [[ -n $dev ]] || die "no default route: set MLOPS_CLUSTER_NODE_IP"
  ip -4 -o addr show dev "$dev" | awk '{split($4, a, "/"); print a[1]; exit}'
}
# Config files are rewritten only when their content changes: kube-proxy exits when its file does.
write_if_changed() {
  local file=$1 new
  new=$(cat)
  [[ -f $file && $(cat "$file") == "$new" ]] || printf '%s\n' "$new" >"$file"
}
kubectl_admin() { kubectl --kubeconfig "$DIR/admin.kubeconfig" "$@"; }
alive() { [[ -f $DIR/pids/$1.pid ]] && kill -0 "$(cat "$DIR/pids/$1.pid")" 2>/dev/null; }

# --- PKI: one CA; server and client certificates as Kubernetes' own components expect them ------
issue() {  # issue NAME CN O SANS
  local name=$1 cn=$2 org=$3 sans=$4
  if [[ -f $PKI/$name.crt ]]; then return; fi
  openssl req -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -out "$PKI/$name.csr" \
    -subj "/CN=$cn${org:+/O=$org}" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    if [[ -n $sans ]]; then echo "subjectAltName=$sans"; fi
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 365 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}
kubeconfig() {  # kubeconfig FILE CERT_NAME
  local file=$1 name=$2
  kubectl config --kubeconfig="$file" set-cluster local --server="$API" --certificate-authority="$PKI/ca.crt" --embed-certs >/dev/null
  kubectl config --kubeconfig="$file" set-credentials "$name" --client-certificate="$PKI/$name.crt" --client-key="$PKI/$name.key" --embed-certs >/dev/null
  kubectl config --kubeconfig="$file" set-context local --cluster=local --user="$name" >/dev/null
  kubectl config --kubeconfig="$file" use-context local >/dev/null
}
make_pki() {
  local ip=$1
  mkdir -p "$PKI" && chmod 700 "$PKI"
  # Certificates name the node address; a changed address means new certificates.
  if [[ -f $PKI/node-ip && $(cat "$PKI/node-ip") != "$ip" ]]; then
    log "node address changed ($(cat "$PKI/node-ip") -> $ip): new certificates"
    rm -f "$PKI"/*.crt "$PKI"/*.key "$DIR"/*.kubeconfig
  fi
  echo "$ip" >"$PKI/node-ip"
  if [[ ! -f $PKI/ca.crt ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 3650 \
      -subj "/CN=mlops-local-cluster-ca" 2>/dev/null
  fi
  issue apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$ip,IP:$API_SERVICE_IP"
  issue etcd etcd "" "DNS:localhost,IP:127.0.0.1"
  issue apiserver-etcd-client kube-apiserver-etcd-client "" ""
  issue apiserver-kubelet-client kube-apiserver-kubelet-client system:masters ""
  issue admin admin system:masters ""
  issue controller-manager system:kube-controller-manager "" ""
  issue scheduler system:kube-scheduler "" ""
  issue kube-proxy system:kube-proxy "" ""
  issue kube-router kube-router "" ""
  local node
  for node in "${NODES[@]}"; do issue "node-$node" "system:node:$node" system:nodes "DNS:$node,IP:$ip"; done
  if [[ ! -f $PKI/service-accounts.key ]]; then
    openssl genrsa -out "$PKI/service-accounts.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/service-accounts.key" -pubout -out "$PKI/service-accounts.pub" 2>/dev/null
  fi
  [[ -f $DIR/admin.kubeconfig ]] || kubeconfig "$DIR/admin.kubeconfig" admin
  for name in controller-manager scheduler kube-proxy kube-router "${NODES[@]/#/node-}"; do
    [[ -f $PKI/$name.kubeconfig ]] || kubeconfig "$PKI/$name.kubeconfig" "$name"
  done
}

# --- processes -----------------------------------------------------------------------------------
start() {  # start NAME CMD...: in the background, its own session, unless already running
  local name=$1
  shift
  if alive "$name"; then return; fi
  setsid "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$name.pid"
}
wait_healthy() {  # wait_healthy NAME TIMEOUT CHECK...: or name the component with its last log lines
  local name=$1 timeout=$2
  shift 2
  if ! retry_until "$timeout" "$@"; then
    log "$name did not become healthy within ${timeout}s; last lines of $DIR/logs/$name.log:"
    tail -n 25 "$DIR/logs/$name.log" >&2 || true
    alive "$name" || log "$name is not running"
    die "cluster start failed at $name"
  fi
  log "$name up (pid $(cat "$DIR/pids/$name.pid"))"
}
healthz() { curl -sfk --max-time 3 "$1" >/dev/null; }
etcd_healthy() {
  curl -sf --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/apiserver-etcd-client.crt" \
    --key "$PKI/apiserver-etcd-client.key" https://127.0.0.1:2379/health | grep -q '"health":"true"'
}

start_control_plane() {
  local bin=$1 ip=$2
  mkdir -p "$DIR/etcd" && chmod 700 "$DIR/etcd"
  start etcd "$bin/etcd" --name local --data-dir "$DIR/etcd" \
    --listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster local=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
    --cert-file "$PKI/etcd.crt" --key-file "$PKI/etcd.key" --trusted-ca-file "$PKI/ca.crt" --client-cert-auth
  wait_healthy etcd 60 etcd_healthy
  # RBAC + Node authorization, NodeRestriction and PodSecurity admission, no anonymous access;
  # privileged containers are allowed by the API server so that PodSecurity is what refuses them.
  # Kubelets (logs, exec, port-forward) are reached at their node address: node names are no DNS names.
  start kube-apiserver "$bin/kube-apiserver" --advertise-address="$ip" --bind-address=0.0.0.0 --secure-port=6443 \
    --etcd-servers=https://127.0.0.1:2379 --etcd-cafile="$PKI/ca.crt" \
    --etcd-certfile="$PKI/apiserver-etcd-client.crt" --etcd-keyfile="$PKI/apiserver-etcd-client.key" \
    --client-ca-file="$PKI/ca.crt" --requestheader-client-ca-file="$PKI/ca.crt" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
    --service-account-key-file="$PKI/service-accounts.pub" --service-account-signing-key-file="$PKI/service-accounts.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range="$SERVICE_CIDR" --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NodeRestriction,PodSecurity --anonymous-auth=false --allow-privileged=true \
    --profiling=false --audit-log-path="$DIR/logs/audit.log" --audit-policy-file="$DIR/audit-policy.yaml" \
    --audit-log-maxsize=100 --audit-log-maxbackup=2
  wait_healthy kube-apiserver 90 kubectl_admin get --raw /readyz
  start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig="$PKI/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$PKI/controller-manager.kubeconfig" --authorization-kubeconfig="$PKI/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/service-accounts.key" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig="$PKI/scheduler.kubeconfig" \
    --authentication-kubeconfig="$PKI/scheduler.kubeconfig" --authorization-kubeconfig="$PKI/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --profiling=false
  wait_healthy kube-controller-manager 60 healthz https://127.0.0.1:10257/healthz
  wait_healthy kube-scheduler 60 healthz https://127.0.0.1:10259/healthz
}

write_audit_policy() {
  write_if_changed "$DIR/audit-policy.yaml" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    nonResourceURLs: [/healthz*, /readyz*, /livez*, /version]
  - level: None
    resources: [{group: coordination.k8s.io, resources: [leases]}]
  - level: Metadata
YAML
}

# Each node: its own containerd (root, state, socket, CNI bridge and subnet) and kubelet (root dir,
# ports, cgroup root). cgroup v1 needs failCgroupV1: false on Kubernetes 1.34.
# The firewall plugin admits each pod's traffic in the FORWARD chain: with br_netfilter on, even
# traffic between pods on one bridge passes it, and a Docker engine on the host sets its policy to DROP.
start_node() {
  local bin=$1 ip=$2 node=$3 index dir taints=""
  index=$(node_index "$node")
  dir=$DIR/nodes/$node
  mkdir -p "$dir/cni" "$dir/kubelet" "$dir/containerd" "$dir/pod-logs"
  write_if_changed "$dir/cni/10-mlops.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "mlops-$node", "plugins": [
  {"type": "bridge", "bridge": "mlops-$node", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "${POD_CIDR%.0.0/*}.$index.0/24"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$dir/cni-ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "firewall", "backend": "iptables"}]}
JSON
  # restrict_oom_score_adj: without CAP_SYS_RESOURCE a process may raise its OOM score but never
  # lower it; containerd otherwise fails every container whose pod asks for a lower score than its
  # own (Guaranteed and system pods).
  write_if_changed "$dir/containerd.toml" <<TOML
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
[grpc]
  address = "$dir/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
TOML
  local controller
  for controller in /sys/fs/cgroup/*/; do
    [[ -L ${controller%/} ]] || mkdir -p "${controller}mlops-$node" 2>/dev/null || true
  done
  write_if_changed "$dir/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
port: $((10250 + index * 10))
healthzBindAddress: 127.0.0.1
healthzPort: $((10248 + index * 10))
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/node-$node.crt
tlsPrivateKeyFile: $PKI/node-$node.key
clusterDomain: cluster.local
clusterDNS: [$CLUSTER_DNS]
cgroupDriver: cgroupfs
cgroupRoot: /mlops-$node
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$dir/containerd.sock
imageServiceEndpoint: unix://$dir/containerd.sock
podCIDR: ${POD_CIDR%.0.0/*}.$index.0/24
# Each kubelet removes log folders of pods it does not know: two sharing /var/log/pods would delete
# each other's container logs.
podLogsDir: $dir/pod-logs
# Two kubelets share one filesystem: per-node ephemeral-storage accounting cannot tell them apart.
localStorageCapacityIsolation: false
# Images are loaded, never pulled: garbage collection would delete what no registry can restore.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "200Mi"}
YAML
  start "containerd-$node" containerd --config "$dir/containerd.toml"
  wait_healthy "containerd-$node" 30 ctr -a "$dir/containerd.sock" version
  if [[ $node == gpu ]]; then taints=nvidia.com/gpu=present:NoSchedule; fi
  # containerd answers its own API before its CRI service has initialized; a kubelet started in that
  # gap exits ("server is not initialized yet"), so it gets a few starts.
  local attempt healthz_url="http://127.0.0.1:$((10248 + index * 10))/healthz"
  for attempt in 1 2 3; do
    start "kubelet-$node" "$bin/kubelet" --config="$dir/kubelet.yaml" --kubeconfig="$PKI/node-$node.kubeconfig" \
      --root-dir="$dir/kubelet" --hostname-override="$node" --node-ip="$ip" \
      --node-labels="mlops.io/node-pool=$node" --register-with-taints="$taints"
    retry_until 20 healthz "$healthz_url" && break
    alive "kubelet-$node" && break
    log "kubelet-$node exited on start $attempt: $(tail -n 1 "$DIR/logs/kubelet-$node.log" | cut -c1-200)"
    sleep 2
  done
  wait_healthy "kubelet-$node" 60 healthz "$healthz_url"
}

start_kube_proxy() {
  local bin=$1
  # One kube-proxy: both nodes share the host's network namespace and so its iptables rules.
  # conntrack sizes stay as the host has them (0: do not set).
  write_if_changed "$DIR/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: cpu
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [primary]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
  start kube-proxy "$bin/kube-proxy" --config="$DIR/kube-proxy.yaml"
  wait_healthy kube-proxy 60 healthz http://127.0.0.1:10256/healthz
}

# NetworkPolicies enforced (the bridge CNI ignores them): kube-router's firewall controller only, as
# a host process like kube-proxy. Both nodes register the host's address, and kube-router counts a
# pod as local by that address, so one instance guards the pods of both nodes. Traffic that the host
# itself sends (kubelet probes, port-forwards, NodePorts from the host) stays allowed.
start_network_policies() {
  local bin=$1
  kubectl_admin apply -f "$ROOT/deploy/cluster/addons/kube-router.yaml" >/dev/null
  start kube-router "$bin/kube-router" --kubeconfig="$PKI/kube-router.kubeconfig" --hostname-override=cpu \
    --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
    --service-cluster-ip-range="$SERVICE_CIDR" --health-port=20244 --metrics-port=0
  wait_healthy kube-router 60 healthz http://127.0.0.1:20244/healthz
}

# kube-router's chains and ipsets would keep filtering pods that nothing updates any more. Its own
# `--cleanup-config` leaves them in place in v2.1.0 (the policy controller cleans up only the IP
# families it was started with), so they go here: the chains by name, with every rule jumping to them.
remove_network_policy_rules() {
  iptables-save -t filter | awk '
    /^:KUBE-(ROUTER|POD-FW|NWPLCY)-/ || /^-A KUBE-(ROUTER|POD-FW|NWPLCY)-/ {next}
    / -j KUBE-(ROUTER|POD-FW|NWPLCY)-/ {next}
    {print}' | iptables-restore || log "warning: could not remove kube-router's iptables chains"
  ipset list -n | grep -E '^KUBE-(SRC|DST)-' | xargs -r -n1 ipset destroy ||
    log "warning: could not remove kube-router's ipsets"
}

# Images of the cluster's own binaries, built FROM scratch (no registry to pull them from) and
# imported into a node's containerd; a node that has the image already is skipped.
load_binary_image() {  # load_binary_image IMAGE BINARY USER NODE...
  local image=$1 binary=$2 user=$3 node context
  shift 3
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    context=$(mktemp -d)
    cp "$binary" "$context/$(basename "$binary")"
    printf 'FROM scratch\nCOPY %s /%s\nUSER %s\nENTRYPOINT ["/%s"]\n' \
      "$(basename "$binary")" "$(basename "$binary")" "$user" "$(basename "$binary")" >"$context/Dockerfile"
    # The classic builder (Debian's docker.io has no buildx); its deprecation notice is noise here.
    DOCKER_BUILDKIT=0 docker build -q -t "$image" "$context" >"$context/build.log" 2>&1 ||
      { cat "$context/build.log" >&2; die "building $image failed"; }
    rm -rf "$context"
  fi
  for node in "$@"; do
    ctr -a "$DIR/nodes/$node/containerd.sock" -n k8s.io images inspect "docker.io/$image" >/dev/null 2>&1 ||
      docker save "$image" | ctr -a "$DIR/nodes/$node/containerd.sock" -n k8s.io images import - >/dev/null
  done
}

# Cluster DNS (deploy/cluster/addons/coredns.yaml): the Service on the kubelets' clusterDNS address.
# The image is tagged by the binary's content, so a rebuilt CoreDNS rolls out as a new image.
start_dns() {
  local bin=$1 image
  image=mlops/coredns:$(sha256sum "$(readlink -f "$bin/coredns")" | cut -c1-12)
  load_binary_image "$image" "$(readlink -f "$bin/coredns")" 65532:65532 cpu
  sed -e "s|image: IMAGE|image: docker.io/$image|" -e "s|clusterIP: CLUSTER_DNS|clusterIP: $CLUSTER_DNS|" \
    "$ROOT/deploy/cluster/addons/coredns.yaml" | kubectl_admin apply -f - >/dev/null
  if ! kubectl_admin -n kube-system rollout status deploy/coredns --timeout=120s >/dev/null; then
    kubectl_admin -n kube-system describe pods -l k8s-app=kube-dns | tail -n 20 >&2 || true
    die "cluster start failed at coredns"
  fi
  log "coredns up (Service kube-system/kube-dns $CLUSTER_DNS)"
}

# Namespace, ServiceAccounts and the pod-launcher Role from k8s/base, and Airflow's kubeconfig: a
# token of ServiceAccount airflow-worker, never the admin's certificate.
airflow_identity() {
  kubectl_admin apply -f k8s/base/namespace.yaml >/dev/null
  kubectl_admin -n "$NAMESPACE" apply -f k8s/base/serviceaccounts.yaml -f k8s/base/pod-launcher-rbac.yaml >/dev/null
  local token
  token=$(kubectl_admin -n "$NAMESPACE" create token airflow-worker --duration=48h)
  local file=$DIR/airflow.kubeconfig
  kubectl config --kubeconfig="$file" set-cluster local --server="$API" --certificate-authority="$PKI/ca.crt" --embed-certs >/dev/null
  kubectl config --kubeconfig="$file" set-credentials airflow-worker --token="$token" >/dev/null
  kubectl config --kubeconfig="$file" set-context local --cluster=local --user=airflow-worker --namespace="$NAMESPACE" >/dev/null
  kubectl config --kubeconfig="$file" use-context local >/dev/null
  chmod 600 "$file"
}

up() {
  [[ $EUID -eq 0 ]] || die "the local cluster runs kubelets and containerd: run as root"
  need containerd runc ctr iptables ipset openssl curl kubectl docker
  [[ -x /usr/lib/cni/bridge ]] || die "no CNI plugins in /usr/lib/cni (Debian: containernetworking-plugins)"
  local started bin ip
  started=$(date +%s)
  bin=$("$ROOT/deploy/cluster/build.sh")
  ip=${MLOPS_CLUSTER_NODE_IP:-$(node_ip)}
  mkdir -p "$DIR/logs" "$DIR/pids"
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || log "warning: net.bridge.bridge-nf-call-iptables not settable (br_netfilter missing?)"
  make_pki "$ip"
  write_audit_policy
  start_control_plane "$bin" "$ip"
  local node
  for node in "${NODES[@]}"; do start_node "$bin" "$ip" "$node"; done
  load_binary_image "$PAUSE_IMAGE" "$bin/pause" 65535:65535 "${NODES[@]}"
  start_kube_proxy "$bin"
  kubectl_admin wait --for=condition=Ready node --all --timeout=120s >/dev/null ||
    die "nodes not Ready: $(kubectl_admin get nodes 2>&1)"
  start_network_policies "$bin"
  start_dns "$bin"
  airflow_identity
  log "cluster up in $(($(date +%s) - started))s: nodes $(kubectl_admin get nodes -o jsonpath='{.items[*].metadata.name}'), API $API"
  log "kubeconfigs: $DIR/admin.kubeconfig (admin), $DIR/airflow.kubeconfig (mlops/airflow-worker)"
}

stop() {  # stop NAME [SECONDS]: TERM, then KILL; only the pid that `start` recorded
  local name=$1 grace=${2:-20} pid
  [[ -f $DIR/pids/$name.pid ]] || return 0
  pid=$(cat "$DIR/pids/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < grace * 2; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped $name (pid $pid)"
  fi
  rm -f "$DIR/pids/$name.pid"
}
no_running_containers() { [[ -z $(ctr -a "$DIR/nodes/$1/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null) ]]; }

down() {
  [[ -d $DIR/pids ]] || { log "no cluster in $DIR"; return 0; }
  local node
  # Controllers first (nothing recreates pods), then every pod, so that the kubelets tear down
  # sandboxes through CNI (veths, IP allocations, network namespaces) before they stop.
  stop kube-controller-manager
  stop kube-scheduler
  if alive kube-apiserver; then
    kubectl_admin delete pods --all --all-namespaces --grace-period=5 --wait=false >/dev/null 2>&1 || true
    for node in "${NODES[@]}"; do
      if alive "kubelet-$node" && ! retry_until 90 no_running_containers "$node"; then
        log "warning: containers still running on $node after 90s"
      fi
    done
  fi
  for node in "${NODES[@]}"; do stop "kubelet-$node"; done
  if alive kube-router; then
    stop kube-router
    remove_network_policy_rules
  fi
  if alive kube-proxy; then
    stop kube-proxy
    "$(readlink -f "$ROOT/build/cluster/current")/kube-proxy" --cleanup >/dev/null 2>&1 || true
  fi
  for node in "${NODES[@]}"; do
    local sock=$DIR/nodes/$node/containerd.sock id
    # Containers left over (a kubelet that died early): kill their tasks while containerd answers.
    for id in $(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$sock" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    stop "containerd-$node"
    # The runc shims this containerd started (they name its socket on their command line).
    pkill -9 -f -- "-address $sock" 2>/dev/null || true
  done
  stop kube-apiserver
  stop etcd
  # Nothing stays mounted under the cluster directory (pod volumes, rootfs, network namespaces).
  local mount
  while read -r mount; do umount -l "$mount" 2>/dev/null || true; done < <(
    awk -v dir="$DIR" 'index($5, dir) == 1 {print $5}' /proc/self/mountinfo | sort -r)
  for node in "${NODES[@]}"; do
    ip link delete "mlops-$node" 2>/dev/null || true
    find /sys/fs/cgroup/*/"mlops-$node" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  log "cluster down (state kept in $DIR; remove it for a fresh cluster)"
}

# Images from the local Docker engine into the nodes' containerd (no registry): `docker save` once,
# `ctr images import` into each node at the same time. A node that imported the same image id before
# is skipped. MLOPS_LOAD_NODES picks the nodes (default: all).
load() {  # load IMAGE...
  [[ $# -gt 0 ]] || die "usage: $0 load IMAGE..."
  need docker ctr
  local image id node archive t0 nodes=() pending
  read -r -a nodes <<<"${MLOPS_LOAD_NODES:-${NODES[*]}}"
  archive=$(mktemp)
  trap 'rm -f "$archive"' RETURN
  for image in "$@"; do
    id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null) || die "image $image not in the Docker engine (make images)"
    pending=()
    for node in "${nodes[@]}"; do
      node_index "$node" >/dev/null
      alive "containerd-$node" || die "node $node is not running (make cluster-up)"
      [[ $(cat "$(image_stamp "$node" "$image")" 2>/dev/null) == "$id" ]] || pending+=("$node")
    done
    [[ ${#pending[@]} -gt 0 ]] || continue
    t0=$(date +%s)
    docker save "$image" >"$archive"
    local pids=()
    for node in "${pending[@]}"; do
      ctr -a "$DIR/nodes/$node/containerd.sock" -n k8s.io images import "$archive" >/dev/null &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || die "importing $image failed"; done
    for node in "${pending[@]}"; do
      mkdir -p "$DIR/nodes/$node/images" && echo "$id" >"$(image_stamp "$node" "$image")"
      retire_other_tags "$node" "$image"
    done
    log "loaded $image into ${pending[*]} ($(du -m "$archive" | cut -f1) MB, $(($(date +%s) - t0))s)"
  done
}
image_stamp() { printf '%s/nodes/%s/images/%s' "$DIR" "$1" "$(printf '%s' "$2" | tr '/:' '__')"; }

# Image GC is off on the nodes (nothing could be pulled back), so each build's tag would stay on
# disk for good (GBs per commit). Loading repo:tag removes the node's other tags of that repo, and
# the CRI's sha256:<id> names that no tag points to any more (also what a reloaded tag replaced); a
# running container keeps its snapshot, and containerd's GC frees the rest.
retire_other_tags() {  # retire_other_tags NODE REPO:TAG
  local sock=$DIR/nodes/$1/containerd.sock keep=docker.io/$2 repo=docker.io/${2%:*}
  local ref digest stale=() named=" " listing
  listing=$(ctr -a "$sock" -n k8s.io images ls 2>/dev/null | awk 'NR > 1 {print $1, $3}')
  while read -r ref digest; do
    if [[ $ref == "$repo:"* && $ref != "$keep" ]]; then
      stale+=("$ref")
    elif [[ $ref != sha256:* ]]; then
      named+="$digest "
    fi
  done <<<"$listing"
  while read -r ref digest; do
    [[ $ref == sha256:* && $named != *" $digest "* ]] && stale+=("$ref")
  done <<<"$listing"
  [[ ${#stale[@]} -gt 0 ]] || return 0
  ctr -a "$sock" -n k8s.io images rm --sync "${stale[@]}" >/dev/null 2>&1 ||
    log "warning: could not remove ${stale[*]} from node $1"
  for ref in "${stale[@]}"; do rm -f "$(image_stamp "$1" "${ref#docker.io/}")"; done
  log "node $1: removed older images of ${2%:*} (${stale[*]})"
}

status() {
  local name
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler containerd-cpu kubelet-cpu containerd-gpu kubelet-gpu kube-proxy kube-router; do
    if alive "$name"; then echo "$name: running (pid $(cat "$DIR/pids/$name.pid"))"; else echo "$name: stopped"; fi
  done
  alive kube-apiserver && kubectl_admin get nodes -o wide
}

cd "$ROOT"
case ${1:-} in
  up) up ;;
  down) down ;;
  clean) down && rm -rf "$DIR" && log "removed $DIR (images, etcd, PKI, volumes)" ;;
  status) status ;;
  load) shift && load "$@" ;;
  *) die "usage: $0 up|down|clean|status|load IMAGE..." ;;
esac
