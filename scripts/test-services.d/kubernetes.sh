# A real Kubernetes API server for the tests of the Kubernetes target (sourced by
# scripts/test-services, which provides log, die, wait_for, pid_alive, apt_install).
#
# kube-apiserver is built from the k8s.io/kubernetes Go module: that module's go.mod
# points its k8s.io/* dependencies at ./staging, which a module download does not
# contain, so a small wrapper module replaces each of them by the published
# k8s.io/* module of the same minor version. The binary is cached under
# $STATE/kubernetes/bin/<version>-<recipe hash>/, like the images' recipe hash.
# It runs on loopback against Debian's etcd, with client certificates from a CA
# of its own; `scripts/test-services env` exports the admin kubeconfig.

KUBE_VERSION=1.34.4
# The published staging modules (k8s.io/api, k8s.io/client-go, ...) of that release.
KUBE_STAGING_VERSION=0.34.4
# Bump when the way the binaries are built changes, so that the cached ones are rebuilt.
KUBE_RECIPE_VERSION=1
KUBE_BINARIES=(kube-apiserver kubectl)
KUBE_APISERVER_PORT="${TICKETCTL_TEST_KUBE_APISERVER_PORT:-16443}"
ETCD_PORT="${TICKETCTL_TEST_ETCD_PORT:-12379}"
ETCD_PEER_PORT="${TICKETCTL_TEST_ETCD_PEER_PORT:-12380}"
KUBE_SERVICE_CIDR=10.96.0.0/16

KUBE_DIR="$STATE/kubernetes"
KUBE_PKI="$KUBE_DIR/pki"
KUBECONFIG_FILE="$KUBE_DIR/admin.kubeconfig"
ETCD_DIR="$KUBE_DIR/etcd"
ETCD_PIDFILE="$KUBE_DIR/etcd.pid"
APISERVER_PIDFILE="$KUBE_DIR/kube-apiserver.pid"

# kube_recipe_of RECIPE_VERSION BINARY...: the hash of a set of binaries built from this release.
kube_recipe_of() {
	local recipe=$1
	shift
	printf 'recipe %s\nkubernetes %s\nstaging %s\nbinaries %s\n' "$recipe" "$KUBE_VERSION" \
		"$KUBE_STAGING_VERSION" "$*" | sha256sum | cut -c1-12
}

kube_recipe_hash() { kube_recipe_of "$KUBE_RECIPE_VERSION" "${KUBE_BINARIES[@]}"; }

kube_bin_dir() { printf '%s\n' "$KUBE_DIR/bin/v$KUBE_VERSION-$(kube_recipe_hash)"; }

kube_binaries_built() {
	local name dir
	dir=$(kube_bin_dir)
	for name in "${KUBE_BINARIES[@]}"; do
		[[ -x "$dir/$name" ]] || return 1
	done
}

# Writes the wrapper module: k8s.io/kubernetes at the release, every module its
# go.mod takes from ./staging replaced by the published one.
write_kube_wrapper_module() {
	local dir=$1 upstream_mod staged
	upstream_mod=$(cd "$dir" && "$GO" mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" |
		sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	[[ -s $upstream_mod ]] || die "could not download k8s.io/kubernetes@v$KUBE_VERSION from the Go module proxy; see $STATE/logs/kube-build.log"
	staged=$(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\1#p' "$upstream_mod")
	[[ -n $staged ]] || die "$upstream_mod has no ./staging replace directives; KUBE_VERSION $KUBE_VERSION needs another recipe"
	{
		printf 'module ticketctl.test/kube-build\n\ngo %s\n\n' "$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$upstream_mod")"
		printf 'require k8s.io/kubernetes v%s\n\nreplace (\n' "$KUBE_VERSION"
		printf '\t%s => %s v%s\n' $(for module in $staged; do printf '%s %s %s ' "$module" "$module" "$KUBE_STAGING_VERSION"; done)
		printf ')\n'
	} >"$dir/go.mod"
}

build_kube_binaries() {
	kube_binaries_built && return 0
	ensure_go  # $GO and ensure_go: scripts/test-services
	local dir="$STATE/build/kube-v$KUBE_VERSION" out start name packages=() version_pkg=k8s.io/component-base/version
	out=$(kube_bin_dir)
	start=$(now)
	rm -rf "$dir"
	mkdir -p "$dir" "$STATE/cache/go"
	log "building ${KUBE_BINARIES[*]} v$KUBE_VERSION from the k8s.io/kubernetes Go module (several minutes on 2 cores)"
	export GOMODCACHE="$STATE/cache/go/mod" GOCACHE="$STATE/cache/go/build" GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
	: >"$STATE/logs/kube-build.log"
	write_kube_wrapper_module "$dir" 2>>"$STATE/logs/kube-build.log"
	for name in "${KUBE_BINARIES[@]}"; do packages+=("k8s.io/kubernetes/cmd/$name"); done
	(cd "$dir" && "$GO" get "${packages[@]/%/@v$KUBE_VERSION}") >>"$STATE/logs/kube-build.log" 2>&1 ||
		die "go get of k8s.io/kubernetes v$KUBE_VERSION failed; see $STATE/logs/kube-build.log"
	mkdir -p "$out.tmp"
	(cd "$dir" && "$GO" build -trimpath -o "$out.tmp/" -ldflags "-s -w \
		-X $version_pkg.gitVersion=v$KUBE_VERSION -X $version_pkg.gitMajor=${KUBE_VERSION%%.*} \
		-X $version_pkg.gitMinor=$(cut -d. -f2 <<<"$KUBE_VERSION") -X $version_pkg.gitTreeState=clean \
		-X $version_pkg.buildDate=1970-01-01T00:00:00Z" "${packages[@]}") >>"$STATE/logs/kube-build.log" 2>&1 ||
		die "go build of ${KUBE_BINARIES[*]} failed; see $STATE/logs/kube-build.log"
	# The build cache (over 2 GB) only speeds up a rebuild, which a new release needs anyway.
	"$GO" clean -cache >/dev/null 2>&1 || true
	unset GOMODCACHE GOCACHE GOFLAGS GOTOOLCHAIN CGO_ENABLED
	rm -rf "$out"
	mv "$out.tmp" "$out"
	rm -rf "$dir"
	log "built ${KUBE_BINARIES[*]} v$KUBE_VERSION in $(($(now) - start)) s ($(du -sh "$out" | cut -f1))"
}

kubectl_bin() { printf '%s\n' "$(kube_bin_dir)/kubectl"; }

# A CA of the test cluster, the API server's serving certificate, an admin client
# certificate (group system:masters) and the service-account signing key; made once.
ensure_kube_pki() {
	[[ -s "$KUBE_PKI/admin.key" && -s "$KUBE_PKI/apiserver.crt" && -s "$KUBE_PKI/sa.key" ]] && return 0
	log "creating the test cluster's certificates in $KUBE_PKI"
	rm -rf "$KUBE_PKI"
	mkdir -p "$KUBE_PKI"
	(
		cd "$KUBE_PKI"
		umask 077
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=ticketctl-test-kubernetes-ca \
			-keyout ca.key -out ca.crt
		openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout apiserver.key -out apiserver.csr
		printf 'subjectAltName=IP:127.0.0.1,IP:%s,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' \
			"${KUBE_SERVICE_CIDR%.0/*}.1" >apiserver.ext
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
			-extfile apiserver.ext -out apiserver.crt
		openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=ticketctl-test-admin" -keyout admin.key -out admin.csr
		printf 'extendedKeyUsage=clientAuth\n' >client.ext
		openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
			-extfile client.ext -out admin.crt
		openssl genrsa -out sa.key 2048
		openssl rsa -in sa.key -pubout -out sa.pub
		rm -f ./*.csr ./*.ext
	) >"$STATE/logs/kube-pki.log" 2>&1 || die "openssl failed to make the test cluster's certificates; see $STATE/logs/kube-pki.log"
}

write_kubeconfig() {
	local server="https://$BIND:$KUBE_APISERVER_PORT"
	cat >"$KUBECONFIG_FILE.tmp" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: ticketctl-test
    cluster:
      server: $server
      certificate-authority: $KUBE_PKI/ca.crt
users:
  - name: ticketctl-test-admin
    user:
      client-certificate: $KUBE_PKI/admin.crt
      client-key: $KUBE_PKI/admin.key
contexts:
  - name: ticketctl-test
    context:
      cluster: ticketctl-test
      user: ticketctl-test-admin
current-context: ticketctl-test
KUBECONFIG
	mv "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"
}

etcd_answers() { curl -fsS --noproxy '*' --max-time 2 "http://$BIND:$ETCD_PORT/health" | grep -q '"health":"true"'; }

start_etcd() {
	if pid_alive "$ETCD_PIDFILE" && etcd_answers; then
		return 0
	fi
	check_port_free "$ETCD_PORT" TICKETCTL_TEST_ETCD_PORT
	check_port_free "$ETCD_PEER_PORT" TICKETCTL_TEST_ETCD_PEER_PORT
	mkdir -p "$ETCD_DIR" "$KUBE_DIR/logs"
	log "starting etcd $(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p') on $BIND:$ETCD_PORT"
	# Test data only: no fsync wait is worth it here.
	nohup etcd --name ticketctl-test --data-dir "$ETCD_DIR" \
		--listen-client-urls "http://$BIND:$ETCD_PORT" --advertise-client-urls "http://$BIND:$ETCD_PORT" \
		--listen-peer-urls "http://$BIND:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://$BIND:$ETCD_PEER_PORT" \
		--initial-cluster "ticketctl-test=http://$BIND:$ETCD_PEER_PORT" --unsafe-no-fsync \
		--quota-backend-bytes $((512 * 1024 * 1024)) --auto-compaction-retention 1h \
		</dev/null >"$KUBE_DIR/logs/etcd.log" 2>&1 &
	echo $! >"$ETCD_PIDFILE"
	WAIT_ALIVE="pid_alive $ETCD_PIDFILE" wait_for "etcd on $BIND:$ETCD_PORT" 30 "$KUBE_DIR/logs/etcd.log" etcd_answers
}

kube_apiserver_answers() {
	curl -fsS --noproxy '*' --max-time 3 --cacert "$KUBE_PKI/ca.crt" --cert "$KUBE_PKI/admin.crt" \
		--key "$KUBE_PKI/admin.key" "https://$BIND:$KUBE_APISERVER_PORT/readyz" 2>/dev/null | grep -qx ok
}

start_kube_apiserver() {
	if pid_alive "$APISERVER_PIDFILE" && kube_apiserver_answers; then
		log "kube-apiserver already answers on $BIND:$KUBE_APISERVER_PORT"
		return 0
	fi
	pid_alive "$APISERVER_PIDFILE" || check_port_free "$KUBE_APISERVER_PORT" TICKETCTL_TEST_KUBE_APISERVER_PORT
	if ! pid_alive "$APISERVER_PIDFILE"; then
		log "starting kube-apiserver v$KUBE_VERSION on $BIND:$KUBE_APISERVER_PORT"
		# --allow-privileged: a namespace labelled privileged must be able to run the
		# search engine's sysctl init container (Pod Security decides, not this flag).
		nohup "$(kube_bin_dir)/kube-apiserver" \
			--bind-address="$BIND" --advertise-address="$BIND" --secure-port="$KUBE_APISERVER_PORT" \
			--etcd-servers="http://$BIND:$ETCD_PORT" \
			--tls-cert-file="$KUBE_PKI/apiserver.crt" --tls-private-key-file="$KUBE_PKI/apiserver.key" \
			--client-ca-file="$KUBE_PKI/ca.crt" \
			--service-account-issuer=https://kubernetes.default.svc.cluster.local \
			--service-account-key-file="$KUBE_PKI/sa.pub" --service-account-signing-key-file="$KUBE_PKI/sa.key" \
			--service-cluster-ip-range="$KUBE_SERVICE_CIDR" \
			--authorization-mode=Node,RBAC --allow-privileged=true \
			--kubelet-preferred-address-types=InternalIP,Hostname \
			--enable-admission-plugins=NodeRestriction \
			--profiling=false --cert-dir="$KUBE_DIR/apiserver-certs" \
			</dev/null >"$KUBE_DIR/logs/kube-apiserver.log" 2>&1 &
		echo $! >"$APISERVER_PIDFILE"
	fi
	WAIT_ALIVE="pid_alive $APISERVER_PIDFILE" wait_for "kube-apiserver on $BIND:$KUBE_APISERVER_PORT" 120 \
		"$KUBE_DIR/logs/kube-apiserver.log" kube_apiserver_answers
}

# Everything the Kubernetes tests need: the binaries, etcd, the API server and a kubeconfig.
start_kubernetes() {
	mkdir -p "$KUBE_DIR/logs"
	build_kube_binaries
	ensure_kube_pki
	write_kubeconfig
	start_etcd
	start_kube_apiserver
}

stop_kubernetes() {
	stop_pidfile kube-apiserver "$APISERVER_PIDFILE"
	stop_pidfile etcd "$ETCD_PIDFILE"
}

kubernetes_env() {
	printf 'export TICKETCTL_TEST_KUBECONFIG=%s\n' "$(shell_quote "$KUBECONFIG_FILE")"
	printf 'export TICKETCTL_TEST_KUBECTL=%s\n' "$(shell_quote "$(kubectl_bin)")"
}

kubernetes_status() {
	local failed=0
	status_line etcd "http://$BIND:$ETCD_PORT" etcd_answers || failed=1
	status_line kube-apiserver "https://$BIND:$KUBE_APISERVER_PORT" kube_apiserver_answers || failed=1
	return "$failed"
}
