#!/usr/bin/env bash
# Report (never assert) what a Snakemake call costs on this machine right now, e.g. before and after the
# test suite: a SLURM client left configured for a controller that is gone adds ≈ 9 s to every call
# (the SLURM executor plugin runs `scontrol show config` when it is imported).
# Usage: bash workflow/scripts/noop_time.sh [LABEL]     (from anywhere; LABEL tags the lines, e.g. before)
#        PYTHON=/path/to/python overrides the venv's interpreter (default: <checkout>/.venv/bin/python).
# Prints three lines "noop_time[LABEL] <what>: <seconds> s" and always exits 0.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LABEL=${1:-now}
PY=${PYTHON:-$ROOT/.venv/bin/python}
BIN=$(dirname "$PY")
export PATH="$BIN:$PATH"

timed() {  # timed WHAT CMD... → one report line; a failing command is reported, not fatal
  local what=$1 t0 t1 rc
  shift
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  rc=$?
  t1=$(date +%s.%N)
  awk -v l="$LABEL" -v w="$what" -v a="$t0" -v b="$t1" -v rc="$rc" \
    'BEGIN { printf "noop_time[%s] %s: %.2f s%s\n", l, w, b - a, (rc ? " (failed, rc=" rc ")" : "") }'
}

timed "import snakemake_executor_plugin_slurm" "$PY" -c "import snakemake_executor_plugin_slurm"
timed "snakemake --version" "$BIN/snakemake" --version

# a dry run of the smoke config in a throw-away copy of the workflow (never touches the checkout)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/wf"
cp "$ROOT/Snakefile" "$TMP/wf/"
for d in workflow config envs; do
  [ -d "$ROOT/$d" ] && cp -r "$ROOT/$d" "$TMP/wf/$d"
done
find "$TMP/wf" -name __pycache__ -prune -exec rm -rf {} + 2>/dev/null
cd "$TMP/wf" && PYTHONPATH="$TMP/wf/workflow" timed "snakemake -n (smoke config, throw-away copy)" \
  "$BIN/snakemake" -n --cores 1 --configfile config/test.yaml
exit 0
