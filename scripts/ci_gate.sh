#!/usr/bin/env bash
# CI performance gate, an A/A check: runs configs/ci-gate.yaml against itself in this job,
# interleaved (ABBA rounds, so that machine drift hits both sides alike), and gates the two sides
# with `nscharacterize ab`: sequential rounds, judged after the first NSC_GATE_ROUNDS and after every
# added round while the data cannot decide, up to NSC_GATE_MAX_ROUNDS a side or NSC_GATE_BUDGET
# seconds, alpha split over the looks, half at the last (docs/ci.md, "Sequential rounds").
#   exit 0: no regression; 1: a regression (or a workload failed); 2: bad input or a failed run;
#   3: inconclusive (the data cannot decide within the budget: noise wider than the threshold).
# Reports: $OUT/compare.md (for a PR comment), $OUT/compare.json, and the merged runs $OUT/A, $OUT/B.
# Environment: NSC_PYTHON (default .venv/bin/python), NSC_CI_CONFIG (configs/ci-gate.yaml: four
# cheap smoke workloads of configs/ci.yaml; the whole ci.yaml made this step 512 s), NSC_GATE_OUT
# (runs/ci-gate), NSC_GATE_ROUNDS (3 a side first: A B, B A, A B), NSC_GATE_MAX_ROUNDS (12),
# NSC_GATE_BUDGET (300 s: no round is started that would end later), NSC_GATE_SAMPLES (per round;
# default the config's). Extra arguments go to `ab` (e.g. --rel-threshold 0.3). To gate a change
# against another commit in the same job instead, run
#   $NSC_PYTHON -m nscharacterize.cli compare --refs origin/main HEAD configs/ci-gate.yaml
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${NSC_PYTHON:-.venv/bin/python}
CONFIG=${NSC_CI_CONFIG:-configs/ci-gate.yaml}
OUT=${NSC_GATE_OUT:-runs/ci-gate}
ROUNDS=${NSC_GATE_ROUNDS:-3}
MAX_ROUNDS=${NSC_GATE_MAX_ROUNDS:-12}
BUDGET=${NSC_GATE_BUDGET:-300}
SAMPLES=()
[ -n "${NSC_GATE_SAMPLES:-}" ] && SAMPLES=(--samples "$NSC_GATE_SAMPLES")
rm -rf "$OUT"
mkdir -p "$OUT"
start=$(date +%s)
"$PY" -m nscharacterize.cli ab "$CONFIG" "$CONFIG" --rounds "$ROUNDS" --max-rounds "$MAX_ROUNDS" \
    --budget "$BUDGET" "${SAMPLES[@]}" --out "$OUT" --markdown "$OUT/compare.md" --json "$OUT/compare.json" "$@"
rc=$?
echo "ci_gate: compare exit $rc after $(( $(date +%s) - start )) s; report $OUT/compare.md" >&2
exit $rc
