#!/usr/bin/env bash
# make bench / make bench-smoke: see bench/run.py for what is measured.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
exec "$repo/.cache/venv/bin/python" "$repo/bench/run.py" "$@"
