#!/usr/bin/env bash
# Builds the test bed's control plane once, into $REPO/.cache (ignored):
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  <- k8s.io/kubernetes (tests/testbed/k8s/go.mod)
#   etcd                                                              <- go.etcd.io/etcd/server/v3 (tests/testbed/etcd/)
#   kwok (+ its CRDs and node stages in .cache/kwok/)                <- sigs.k8s.io/kwok (tests/testbed/kwok/go.mod)
# and then calls tests/testbed/java/fetch.sh (ZooKeeper and Kafka jars) when it exists.
# Every version is pinned in the go.mod files next to this script. A phase whose outputs exist and whose
# stamp (.cache/bin/.stamp-<phase>) matches the pinned version, Go version and flags is skipped.
# Nothing is ever substituted: a phase that fails stops the script with a message naming what failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE="$REPO/.cache"
BIN="$CACHE/bin"
LOGS="$CACHE/build-logs"
mkdir -p "$BIN" "$LOGS" "$CACHE/go"

export GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/cache" CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"

die() { echo "build.sh: ERROR: $*" >&2; exit 1; }
command -v go >/dev/null || die "no 'go' on PATH: the control plane is built from Go modules (Go >= 1.26 needed)"
GO_VERSION=$(go env GOVERSION)

modver() { # modver DIR MODULE -> the version DIR/go.mod requires
  awk -v m="$2" '($1 == m && $2 ~ /^v/) {print $2; exit} ($1 == "require" && $2 == m) {print $3; exit}' "$1/go.mod"
}
K8S_VERSION=$(modver "$HERE/k8s" k8s.io/kubernetes)
ETCD_VERSION=$(modver "$HERE/etcd" go.etcd.io/etcd/server/v3)
KWOK_VERSION=$(modver "$HERE/kwok" sigs.k8s.io/kwok)
[ -n "$K8S_VERSION" ] && [ -n "$ETCD_VERSION" ] && [ -n "$KWOK_VERSION" ] ||
  die "could not read the pinned versions from tests/testbed/{k8s,etcd,kwok}/go.mod"
K8S_MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)

K8S_LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$K8S_MINOR -X k8s.io/component-base/version.gitTreeState=clean"
K8S_TAGS="selinux,notest"

# stamp NAME CONTENT OUTPUT... : true when every output exists and the stamp says CONTENT
fresh() {
  local name=$1 content=$2; shift 2
  local f
  for f in "$@"; do [ -x "$f" ] || [ -f "$f" ] || return 1; done
  [ -f "$BIN/.stamp-$name" ] && [ "$(cat "$BIN/.stamp-$name")" = "$content" ]
}
# failure message with the end of the phase's log
fail_phase() { # fail_phase WHAT LOG
  echo "----- last lines of $2 -----" >&2
  tail -25 "$2" >&2 || true
  die "could not build $1 (full log: $2)"
}

phase_start=0
begin() { phase_start=$SECONDS; echo "build.sh: $1 ..."; }
end() { echo "build.sh: $1 took $((SECONDS - phase_start))s"; }

total_start=$SECONDS

# ---- Kubernetes control plane ------------------------------------------------------------------------------
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
K8S_STAMP="k8s.io/kubernetes $K8S_VERSION $GO_VERSION tags=$K8S_TAGS ldflags=$K8S_LDFLAGS"
K8S_OUT=()
for c in "${K8S_CMDS[@]}"; do K8S_OUT+=("$BIN/$c"); done
if fresh kubernetes "$K8S_STAMP" "${K8S_OUT[@]}"; then
  echo "build.sh: kubernetes $K8S_VERSION is up to date (${K8S_CMDS[*]})"
else
  begin "kubernetes $K8S_VERSION: building ${K8S_CMDS[*]} (10-25 min on 2 cores the first time)"
  log="$LOGS/kubernetes.log"
  pkgs=()
  for c in "${K8S_CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  tmp=$(mktemp -d "$BIN/.k8s.XXXXXX")
  if ! (cd "$HERE/k8s" && go build -tags "$K8S_TAGS" -trimpath -ldflags "$K8S_LDFLAGS" -o "$tmp/" "${pkgs[@]}") >"$log" 2>&1; then
    rm -rf "$tmp"
    fail_phase "kube-apiserver/kube-controller-manager/kube-scheduler/kubectl from k8s.io/kubernetes $K8S_VERSION" "$log"
  fi
  for c in "${K8S_CMDS[@]}"; do mv -f "$tmp/$c" "$BIN/$c"; done
  rm -rf "$tmp"
  got=$("$BIN/kube-apiserver" --version 2>&1 || true)
  [ "$got" = "Kubernetes $K8S_VERSION" ] || die "kube-apiserver --version says '$got', expected 'Kubernetes $K8S_VERSION'"
  echo "$K8S_STAMP" >"$BIN/.stamp-kubernetes"
  end "kubernetes $K8S_VERSION"
fi

# ---- etcd ----------------------------------------------------------------------------------------------------
ETCD_STAMP="go.etcd.io/etcd/server/v3 $ETCD_VERSION $GO_VERSION"
if fresh etcd "$ETCD_STAMP" "$BIN/etcd"; then
  echo "build.sh: etcd $ETCD_VERSION is up to date"
else
  begin "etcd $ETCD_VERSION: building from go.etcd.io/etcd/server/v3"
  log="$LOGS/etcd.log"
  if ! (cd "$HERE/etcd" && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.new" .) >"$log" 2>&1; then
    rm -f "$BIN/etcd.new"
    fail_phase "etcd from go.etcd.io/etcd/server/v3 $ETCD_VERSION" "$log"
  fi
  mv -f "$BIN/etcd.new" "$BIN/etcd"
  got=$("$BIN/etcd" --version 2>&1 | head -1 || true)
  [ "$got" = "etcd Version: ${ETCD_VERSION#v}" ] || die "etcd --version says '$got', expected 'etcd Version: ${ETCD_VERSION#v}'"
  echo "$ETCD_STAMP" >"$BIN/.stamp-etcd"
  end "etcd $ETCD_VERSION"
fi

# ---- kwok ----------------------------------------------------------------------------------------------------
KWOK_STAMP="sigs.k8s.io/kwok $KWOK_VERSION $GO_VERSION"
CRDS="$CACHE/kwok/crds"
STAGES="$CACHE/kwok/stages"
if fresh kwok "$KWOK_STAMP" "$BIN/kwok" "$CRDS/kwok.x-k8s.io_execs.yaml" "$STAGES/node-initialize.yaml"; then
  echo "build.sh: kwok $KWOK_VERSION is up to date"
else
  begin "kwok $KWOK_VERSION: building sigs.k8s.io/kwok/cmd/kwok"
  log="$LOGS/kwok.log"
  if ! (cd "$HERE/kwok" && go build -trimpath -ldflags "-s -w" -o "$BIN/kwok.new" sigs.k8s.io/kwok/cmd/kwok) >"$log" 2>&1; then
    rm -f "$BIN/kwok.new"
    fail_phase "kwok from sigs.k8s.io/kwok $KWOK_VERSION" "$log"
  fi
  mv -f "$BIN/kwok.new" "$BIN/kwok"
  src=$(cd "$HERE/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok) || die "could not find sigs.k8s.io/kwok $KWOK_VERSION in the module cache"
  [ -d "$src/kustomize/crd/bases" ] || die "no CRDs in $src/kustomize/crd/bases"
  rm -rf "$CRDS" && mkdir -p "$CRDS"
  cp "$src"/kustomize/crd/bases/*.yaml "$CRDS/"
  # the node stages testbed.py gives kwok (no pod stage: the pod runner is the kubelet)
  rm -rf "$STAGES" && mkdir -p "$STAGES"
  cp "$src/kustomize/stage/node/fast/node-initialize.yaml" \
     "$src/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" "$STAGES/" ||
    die "kwok $KWOK_VERSION has no node-initialize / node-heartbeat-with-lease stage where expected"
  chmod u+w "$CRDS"/*.yaml "$STAGES"/*.yaml
  got=$("$BIN/kwok" --version 2>&1 | head -1 || true)
  case "$got" in *"${KWOK_VERSION#v}"*) ;; *) die "kwok --version says '$got', expected ${KWOK_VERSION#v}" ;; esac
  echo "$KWOK_STAMP" >"$BIN/.stamp-kwok"
  end "kwok $KWOK_VERSION"
fi

# ---- Java (ZooKeeper, Kafka): another part of the test bed -----------------------------------------------------
if [ -f "$HERE/java/fetch.sh" ]; then
  begin "java/fetch.sh (ZooKeeper and Kafka jars)"
  bash "$HERE/java/fetch.sh" || die "tests/testbed/java/fetch.sh failed (ZooKeeper/Kafka jars)"
  end "java/fetch.sh"
else
  echo "build.sh: no tests/testbed/java/fetch.sh: ZooKeeper and Kafka jars not fetched"
fi

echo "build.sh: done in $((SECONDS - total_start))s: kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION in $BIN"
