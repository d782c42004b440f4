#!/usr/bin/env bash
# Build the collection tarball and install it, with kubernetes.core and community.crypto, into a directory of its own; sanity and
# ansible-doc use that installed copy, which is exactly what users get from the tarball.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$repo/.cache/venv/bin:$PATH"
out="$repo/.cache/dist"
# Outside the checkout: ansible-test would otherwise see an ignored directory of this git repository.
installed="${KAFKA_EKS_INSTALL_DIR:-${TMPDIR:-/tmp}/kafka_eks.cluster-installed}"
rm -rf "$out" "$installed"
mkdir -p "$out" "$installed/ansible_collections/kubernetes" "$installed/ansible_collections/community"
ansible-galaxy collection build --force --output-path "$out" .
tarball=$(ls "$out"/kafka_eks-cluster-*.tar.gz)
# --no-deps: kubernetes.core and community.crypto come from .cache/collections (no Galaxy server is reachable here).
ansible-galaxy collection install --no-deps --force -p "$installed" "$tarball"
cp -a "$repo/.cache/collections/ansible_collections/kubernetes/core" "$installed/ansible_collections/kubernetes/"
cp -a "$repo/.cache/collections/ansible_collections/community/crypto" "$installed/ansible_collections/community/"
ANSIBLE_COLLECTIONS_PATH="$installed" ansible-galaxy collection list -p "$installed" 2>/dev/null | grep -E "kafka_eks.cluster|kubernetes.core|community.crypto"
ANSIBLE_COLLECTIONS_PATH="$installed" ansible-doc kafka_eks.cluster.cluster_plan > /dev/null
echo "built $(basename "$tarball") and installed it into $installed"
