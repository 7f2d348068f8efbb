#!/usr/bin/env bash
# Create .venv with the pinned stack (CPU torch wheel) and the paperclaims package. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r envs/requirements.txt
.venv/bin/python -m pip install --quiet --no-deps -e .
echo "paperclaims environment ready in .venv"
