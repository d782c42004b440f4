#!/usr/bin/env bash
# ansible-test sanity on the installed copy of the collection (it must sit at
# ansible_collections/kafka_eks/cluster, and that is what users install). ansible-test's own pinned tools
# (pylint, pycodestyle, ...) go into venvs of its own. To create them it runs a pip bootstrap script that
# it would download from a host this machine cannot reach; ansible-test's documented way out is to save a
# bootstrap script in its cache, and ours installs the requested pip from PyPI with the pip we already have.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
installed="${KAFKA_EKS_INSTALL_DIR:-${TMPDIR:-/tmp}/kafka_eks.cluster-installed}/ansible_collections/kafka_eks/cluster"
[ -d "$installed" ] || "$repo/scripts/build-collection.sh"
venv="$repo/.cache/sanity-venv"
core=$(grep -E '^ansible-core==' "$repo/tests/requirements.txt")
stamp="$venv/.stamp"
bootstrap_pip() {
  local version
  version=$("$venv/bin/python" -c 'import ansible_test._internal.python_requirements as r; print(r.PIP_VERSION)' 2>/dev/null || echo 24.2)
  local target="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
  mkdir -p "$(dirname "$target")"
  cat > "$target" <<PY
# Written by kafka_eks.cluster scripts/sanity.sh: installs pip into a new venv from PyPI.
import subprocess, sys
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call(["$venv/bin/python", "-m", "pip", "--python", sys.executable, "install", "--quiet"] + args)
PY
}
if [ "$(cat "$stamp" 2>/dev/null)" != "$core" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$core" \
    $(grep -E '^(kubernetes|kazoo|PyYAML|jsonpatch|requests-oauthlib)==' "$repo/tests/requirements.txt")
  echo "$core" > "$stamp"
fi
bootstrap_pip
cd "$installed"
"$venv/bin/ansible-test" sanity --local --python 3.11 --color no "$@"
