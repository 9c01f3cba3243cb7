# A one-node Kubernetes cluster on this machine, beside the API server of kubernetes.sh (sourced
# by scripts/test-services after it): kubelet, kube-controller-manager, kube-scheduler and
# kube-proxy built from the same wrapper module, a containerd of its own (CRI plugin; its own
# root, state and socket, never dockerd's), Debian's CNI plugins on a bridge of its own,
# CoreDNS built from its Go module and run on the bridge's address, a pause image compiled
# here, and the local images imported. `scripts/test-services kubernetes-node [up|down|status]`.
#
# It runs pods for real, so it refuses the shared state folder: give it a TICKETCTL_TEST_STATE of
# its own and other ports (see docs/test-services.md). What this machine needs, measured here:
#   - cgroup v1: kubelet 1.34 runs on it only with failCgroupV1: false (1.35 drops v1);
#   - no CAP_SYS_RESOURCE: runc may not lower oom_score_adj (the pause container's -998), so
#     containerd restricts every OOM score to its own (restrict_oom_score_adj);
#   - no image registry: the pause image is a static binary compiled here, the others imported
#     from the Docker Engine (`docker save | ctr import`), and pods use imagePullPolicy Never.

KUBE_NODE_RECIPE_VERSION=1
KUBE_NODE_BINARIES=(kubelet kube-controller-manager kube-scheduler kube-proxy)
COREDNS_VERSION=1.14.7
NODE_NAME=ticketctl-node
NODE_BRIDGE=tkt-k8s0
NODE_POD_CIDR=10.244.0.0/24
NODE_IP=10.244.0.1
NODE_DIR="$KUBE_DIR/node"
NODE_RUN=/run/ticketctl-k8s
NODE_SOCKET="$NODE_RUN/containerd.sock"
NODE_CGROUP=ticketctl-kubepods
NODE_PAUSE_IMAGE="$IMAGE_PREFIX/pause:3.10"
# Ports of the node's own servers, on loopback (the kubelet's on the bridge address).
KUBELET_PORT="${TICKETCTL_TEST_KUBELET_PORT:-20250}"
NODE_PORT_BASE="${TICKETCTL_TEST_KUBE_NODE_PORT_BASE:-20240}"

node_recipe_hash() { kube_recipe_of "$KUBE_NODE_RECIPE_VERSION" "${KUBE_NODE_BINARIES[@]}"; }

node_bin_dir() { printf '%s\n' "$KUBE_DIR/bin/node-v$KUBE_VERSION-$(node_recipe_hash)"; }

kubectl_node() { "$(kubectl_bin)" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# The node binaries come from the same wrapper module as kube-apiserver (kubernetes.sh).
build_node_binaries() {
	local out name missing=0
	out=$(node_bin_dir)
	for name in "${KUBE_NODE_BINARIES[@]}" coredns; do [[ -x "$out/$name" ]] || missing=1; done
	((missing)) || return 0
	[[ -x $GO ]] || die "no Go toolchain at $GO; install Go >= 1.24 there or set TICKETCTL_TEST_GO"
	local dir="$STATE/build/kube-node-v$KUBE_VERSION" start packages=() version_pkg=k8s.io/component-base/version
	start=$(now)
	rm -rf "$dir" "$out.tmp"
	mkdir -p "$dir" "$out.tmp" "$STATE/cache/go"
	log "building ${KUBE_NODE_BINARIES[*]} v$KUBE_VERSION and CoreDNS $COREDNS_VERSION (several minutes on 2 cores)"
	export GOMODCACHE="$STATE/cache/go/mod" GOCACHE="$STATE/cache/go/build" GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
	: >"$STATE/logs/kube-node-build.log"
	write_kube_wrapper_module "$dir" 2>>"$STATE/logs/kube-node-build.log"
	for name in "${KUBE_NODE_BINARIES[@]}"; do packages+=("k8s.io/kubernetes/cmd/$name"); done
	(cd "$dir" && "$GO" get "${packages[@]/%/@v$KUBE_VERSION}" &&
		"$GO" build -trimpath -o "$out.tmp/" -ldflags "-s -w \
		-X $version_pkg.gitVersion=v$KUBE_VERSION -X $version_pkg.gitMajor=${KUBE_VERSION%%.*} \
		-X $version_pkg.gitMinor=$(cut -d. -f2 <<<"$KUBE_VERSION") -X $version_pkg.gitTreeState=clean \
		-X $version_pkg.buildDate=1970-01-01T00:00:00Z" "${packages[@]}") >>"$STATE/logs/kube-node-build.log" 2>&1 ||
		die "go build of ${KUBE_NODE_BINARIES[*]} failed; see $STATE/logs/kube-node-build.log"
	GOBIN="$out.tmp" "$GO" install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@v$COREDNS_VERSION" \
		>>"$STATE/logs/kube-node-build.log" 2>&1 || die "go install of CoreDNS failed; see $STATE/logs/kube-node-build.log"
	"$GO" clean -cache >/dev/null 2>&1 || true
	unset GOMODCACHE GOCACHE GOFLAGS GOTOOLCHAIN CGO_ENABLED
	rm -rf "$out" "$dir"
	mv "$out.tmp" "$out"
	log "built the node binaries in $(($(now) - start)) s ($(du -sh "$out" | cut -f1))"
}

# The pod sandbox: a static binary that sleeps until told to stop and reaps what it inherits.
build_pause_image() {
	"$DOCKER" image inspect "$NODE_PAUSE_IMAGE" >/dev/null 2>&1 && return 0
	local dir="$STATE/build/pause"
	rm -rf "$dir" && mkdir -p "$dir/rootfs"
	cat >"$dir/pause.c" <<'C'
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int signal) { (void)signal; _exit(0); }
static void reap(int signal) { (void)signal; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGINT, stop);
  signal(SIGTERM, stop);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
C
	gcc -Os -static -o "$dir/rootfs/pause" "$dir/pause.c" || die "cannot compile the pause binary (gcc, libc6-dev)"
	tar -C "$dir/rootfs" -c pause | "$DOCKER" import -c 'ENTRYPOINT ["/pause"]' -c 'USER 65535:65535' - \
		"$NODE_PAUSE_IMAGE" >/dev/null
	rm -rf "$dir"
}

write_node_configs() {
	mkdir -p "$NODE_DIR"/{containerd,cni/net.d,kubelet/root,logs,pv} "$NODE_RUN"
	cat >"$NODE_DIR/containerd/config.toml" <<TOML
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_RUN/containerd"
[grpc]
  address = "$NODE_SOCKET"
[ttrpc]
  address = "$NODE_SOCKET.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/$NODE_PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
TOML
	cat >"$NODE_DIR/cni/net.d/10-ticketctl.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "ticketctl-test",
  "plugins": [
    {"type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "$NODE_IP"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall"}
  ]
}
JSON
	cat >"$NODE_DIR/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$NODE_CGROUP
containerRuntimeEndpoint: unix://$NODE_SOCKET
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: $BIND
healthzPort: $((NODE_PORT_BASE + 8))
# Reachable only on the node's own bridge; the API server reads logs through it.
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
clusterDNS: [$NODE_IP]
failSwapOn: false
# The machine's disk and memory are shared with other work: no eviction on their account.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
enforceNodeAllocatable: []
makeIPTablesUtilChains: false
YAML
	cat >"$NODE_DIR/Corefile" <<COREFILE
.:53 {
    bind $NODE_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_FILE ticketctl-test
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
}
COREFILE
}

# The node's own cgroup under every v1 hierarchy (kubelet wants cgroupRoot to exist).
ensure_node_cgroups() {
	local hierarchy
	for hierarchy in /sys/fs/cgroup/*/; do
		hierarchy=${hierarchy%/}
		[[ $hierarchy == */unified ]] && continue
		mkdir -p "$hierarchy/$NODE_CGROUP"
	done
	if [[ -d /sys/fs/cgroup/cpuset/$NODE_CGROUP ]]; then
		cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$NODE_CGROUP/cpuset.cpus"
		cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$NODE_CGROUP/cpuset.mems"
	fi
}

# The bridge exists before the first pod, so that kubelet and CoreDNS can bind its address; the
# service range is a blackhole route, so that nothing for it ever leaves the machine unproxied.
ensure_node_network() {
	if ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
		ip link add "$NODE_BRIDGE" type bridge
		ip addr add "$NODE_IP/${NODE_POD_CIDR#*/}" dev "$NODE_BRIDGE"
	fi
	ip link set "$NODE_BRIDGE" up
	ip route show "$KUBE_SERVICE_CIDR" | grep -q blackhole || ip route add blackhole "$KUBE_SERVICE_CIDR"
}

start_node_process() {
	local name=$1
	shift
	local pidfile="$NODE_DIR/$name.pid"
	pid_alive "$pidfile" && return 0
	log "starting $name"
	nohup "$@" </dev/null >"$NODE_DIR/logs/$name.log" 2>&1 &
	echo $! >"$pidfile"
}

node_containerd_answers() { ctr -a "$NODE_SOCKET" version >/dev/null 2>&1; }
node_ready() { kubectl_node get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True; }

# Images the stack runs here: the local ones (docker save | ctr import), when not imported yet.
import_node_images() {
	local image
	for image in "$NODE_PAUSE_IMAGE" "$@"; do
		ctr -a "$NODE_SOCKET" -n k8s.io images ls -q | grep -qx "docker.io/$image" && continue
		log "importing $image into the node's containerd"
		"$DOCKER" save "$image" | ctr -a "$NODE_SOCKET" -n k8s.io images import - >/dev/null ||
			die "cannot import $image into the node's containerd"
	done
}

start_kubernetes_node() {
	[[ $STATE != /var/tmp/ticketctl-test-services ]] ||
		die "kubernetes-node runs pods for real: give it a state folder of its own (TICKETCTL_TEST_STATE) and other ports"
	apt_install containerd runc containernetworking-plugins conntrack iptables iproute2 gcc libc6-dev
	start_kubernetes
	build_node_binaries
	build_pause_image
	write_node_configs
	ensure_node_cgroups
	ensure_node_network
	local bin
	bin=$(node_bin_dir)
	start_node_process containerd containerd --config "$NODE_DIR/containerd/config.toml"
	WAIT_ALIVE="pid_alive $NODE_DIR/containerd.pid" wait_for "the node's containerd" 30 "$NODE_DIR/logs/containerd.log" \
		node_containerd_answers
	# shellcheck disable=SC2086 # TICKETCTL_TEST_KUBE_NODE_IMAGES: more images (the ticketctl one), space-separated
	import_node_images "$(image_ref mysql)" "$(image_ref redis)" "$(image_ref opensearch)" "$(image_ref apps)" \
		${TICKETCTL_TEST_KUBE_NODE_IMAGES:-}
	start_node_process kubelet "$bin/kubelet" --config="$NODE_DIR/kubelet/config.yaml" --kubeconfig="$KUBECONFIG_FILE" \
		--root-dir="$NODE_DIR/kubelet/root" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"
	start_node_process kube-controller-manager "$bin/kube-controller-manager" --kubeconfig="$KUBECONFIG_FILE" \
		--authentication-kubeconfig="$KUBECONFIG_FILE" --authorization-kubeconfig="$KUBECONFIG_FILE" \
		--service-account-private-key-file="$KUBE_PKI/sa.key" --root-ca-file="$KUBE_PKI/ca.crt" \
		--leader-elect=false --bind-address="$BIND" --secure-port=$((NODE_PORT_BASE + 17)) \
		--controllers='*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle' --cluster-name=ticketctl-test
	start_node_process kube-scheduler "$bin/kube-scheduler" --kubeconfig="$KUBECONFIG_FILE" \
		--authentication-kubeconfig="$KUBECONFIG_FILE" --authorization-kubeconfig="$KUBECONFIG_FILE" \
		--leader-elect=false --bind-address="$BIND" --secure-port=$((NODE_PORT_BASE + 19))
	start_node_process kube-proxy "$bin/kube-proxy" --kubeconfig="$KUBECONFIG_FILE" --proxy-mode=iptables \
		--cluster-cidr="$NODE_POD_CIDR" --hostname-override="$NODE_NAME" --conntrack-max-per-core=0 \
		--nodeport-addresses=primary --healthz-bind-address="$BIND:$((NODE_PORT_BASE + 16))" \
		--metrics-bind-address="$BIND:$((NODE_PORT_BASE + 9))"
	start_node_process coredns "$bin/coredns" -conf "$NODE_DIR/Corefile"
	WAIT_ALIVE="pid_alive $NODE_DIR/kubelet.pid" wait_for "node $NODE_NAME" 120 "$NODE_DIR/logs/kubelet.log" node_ready
	log "node $NODE_NAME is ready (pods on $NODE_POD_CIDR, DNS on $NODE_IP)"
}

stop_kubernetes_node() {
	local name
	for name in coredns kube-proxy kube-scheduler kube-controller-manager kubelet; do
		stop_pidfile "$name" "$NODE_DIR/$name.pid"
	done
	if [[ -x "$(node_bin_dir)/kube-proxy" ]]; then
		"$(node_bin_dir)/kube-proxy" --cleanup >/dev/null 2>&1 || true
	fi
	# The pods' containers go with their containerd's shims.
	ctr -a "$NODE_SOCKET" -n k8s.io tasks ls -q 2>/dev/null | while read -r task; do
		ctr -a "$NODE_SOCKET" -n k8s.io tasks kill -s KILL "$task" >/dev/null 2>&1 || true
	done
	stop_pidfile containerd "$NODE_DIR/containerd.pid"
	# What kubelet mounted for its pods (Secrets, ConfigMaps, projected tokens) and the netns pins.
	findmnt -rn -o TARGET | grep -E "^($NODE_DIR/|$NODE_RUN/|/run/netns/cni-)" | sort -r | xargs -r umount 2>/dev/null || true
	# kubelet's own chain (it drops outside traffic to 127.0.0.0/8); kube-proxy --cleanup leaves it.
	if iptables -S KUBE-FIREWALL >/dev/null 2>&1; then
		iptables -D INPUT -j KUBE-FIREWALL 2>/dev/null || true
		iptables -D OUTPUT -j KUBE-FIREWALL 2>/dev/null || true
		iptables -F KUBE-FIREWALL && iptables -X KUBE-FIREWALL
	fi
	# The CNI firewall plugin's chains, empty once its pods are gone.
	if iptables -S CNI-FORWARD >/dev/null 2>&1; then
		iptables -D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD 2>/dev/null || true
		iptables -F CNI-FORWARD && iptables -X CNI-FORWARD
		iptables -F CNI-ADMIN 2>/dev/null && iptables -X CNI-ADMIN 2>/dev/null || true
	fi
	ip link del "$NODE_BRIDGE" 2>/dev/null || true
	ip route del blackhole "$KUBE_SERVICE_CIDR" 2>/dev/null || true
	# The node's cgroups, deepest first (only empty ones can go).
	find /sys/fs/cgroup/*/"$NODE_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
}

kubernetes_node_status() {
	status_line "node $NODE_NAME" "$NODE_IP" node_ready
}
