#!/usr/bin/env bash
# Installs everything the collection and its tests need into .cache/ (ignored), once.
# Python tools from tests/requirements.txt (pinned) in .cache/venv; kubernetes.core 6.2.0 and community.crypto
# 3.0.5 taken out of the `ansible` 12.3.0 wheel on PyPI (no Galaxy server is needed) into .cache/collections,
# beside a link to this checkout as kafka_eks.cluster.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache="$repo/.cache"
ansible_wheel_version=12.3.0
ansible_wheel_sha256=cd156f82fa87f7a899212b0efa9f7ca3a24d609212de9f78428a572eb01e5414
mkdir -p "$cache"
start=$(date +%s)

python=${PYTHON:-python3}
req_stamp="$cache/venv/.requirements.sha256"
req_sum=$(sha256sum "$repo/tests/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$cache/venv/bin/python" ] || [ "$(cat "$req_stamp" 2>/dev/null)" != "$req_sum" ]; then
  echo "setup: creating .cache/venv from tests/requirements.txt"
  "$python" -m venv "$cache/venv"
  "$cache/venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo/tests/requirements.txt"
  echo "$req_sum" > "$req_stamp"
else
  echo "setup: .cache/venv is current"
fi

collections="$cache/collections/ansible_collections"
# Each collection the roles use, as namespace/name, taken from the same pinned wheel.
wanted=()
for collection in kubernetes/core community/crypto; do
  [ -f "$collections/$collection/MANIFEST.json" ] || wanted+=("$collection")
done
if [ ${#wanted[@]} -gt 0 ]; then
  echo "setup: installing ${wanted[*]} from ansible==$ansible_wheel_version"
  mkdir -p "$cache/dl"
  wheel="$cache/dl/ansible-$ansible_wheel_version-py3-none-any.whl"
  [ -f "$wheel" ] || "$cache/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
    "ansible==$ansible_wheel_version" -d "$cache/dl"
  echo "$ansible_wheel_sha256  $wheel" | sha256sum -c --quiet
  "$cache/venv/bin/python" - "$wheel" "$cache/collections" "${wanted[@]}" <<'PY'
import json, sys, zipfile
wheel, dest, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    for collection in wanted:
        prefix = "ansible_collections/%s/" % collection
        members = [m for m in z.namelist() if m.startswith(prefix)]
        z.extractall(dest, members)
        version = json.loads(z.read(prefix + "MANIFEST.json"))["collection_info"]["version"]
        print("setup: extracted %d files of %s %s" % (len(members), collection.replace("/", "."), version))
PY
fi
mkdir -p "$collections/kafka_eks"
ln -sfn "$repo" "$collections/kafka_eks/cluster"
echo "setup: done in $(( $(date +%s) - start ))s"
