#!/usr/bin/env bash
# The whole test suite, phase by phase, with the seconds each took. Stops at the first failing phase.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$repo/.cache/venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$repo/.cache/collections"
declare -a summary=()
phase() {
  local name=$1; shift
  local start=$SECONDS
  echo "=== $name"
  "$@"
  summary+=("$(printf '%-28s %5ss' "$name" $((SECONDS - start)))")
}
phase "unit + render tests" python -m pytest tests/unit tests/render -q
phase "ansible-lint (production)" ansible-lint
phase "yamllint" yamllint -s .
phase "changelog lint" antsibull-changelog lint
phase "collection build + install" scripts/build-collection.sh
phase "ansible-test sanity" scripts/sanity.sh
if [ "${KAFKA_EKS_SKIP_E2E:-0}" != 1 ] && [ -x tests/testbed/build.sh ]; then
  phase "test bed build" tests/testbed/build.sh
  phase "end-to-end (test bed)" python -m pytest -m testbed tests/testbed tests/e2e -q
  phase "benchmark smoke (1 run)" bench/run.sh --smoke --out .cache/bench/smoke.json
else
  echo "=== end-to-end: skipped (KAFKA_EKS_SKIP_E2E=1 or no test bed)"
fi
echo "=== phases"
printf '%s\n' "${summary[@]}"
