#!/usr/bin/env bash
# CI performance gate: runs configs/ci.yaml twice in this job, interleaved (ABBA rounds, so that
# machine drift hits both sides alike), and gates the two runs with `nscharacterize compare`.
#   exit 0: no regression; 1: a regression (or a workload failed); 2: bad input or a failed run;
#   3: inconclusive (the data cannot decide: too few samples, or noise wider than the threshold).
# Reports: $OUT/compare.md (for a PR comment), $OUT/compare.json, and the merged runs $OUT/A, $OUT/B.
# Environment: NSC_PYTHON (default .venv/bin/python), NSC_CI_CONFIG (configs/ci.yaml),
# NSC_GATE_OUT (runs/ci-gate), NSC_GATE_ROUNDS (3 per side: A B, B A, A B, so that a slow spell in the
# middle of the job cannot land on one side's every round), NSC_GATE_SAMPLES (per round; default
# the config's). Extra arguments go to `compare`
# (e.g. --rel-threshold 0.3). To gate a change against another commit in the same job instead, run
#   $NSC_PYTHON -m nscharacterize.cli compare --refs origin/main HEAD configs/ci.yaml
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${NSC_PYTHON:-.venv/bin/python}
CONFIG=${NSC_CI_CONFIG:-configs/ci.yaml}
OUT=${NSC_GATE_OUT:-runs/ci-gate}
ROUNDS=${NSC_GATE_ROUNDS:-3}
SAMPLES=()
[ -n "${NSC_GATE_SAMPLES:-}" ] && SAMPLES=(--samples "$NSC_GATE_SAMPLES")
rm -rf "$OUT"
mkdir -p "$OUT"
start=$(date +%s)
"$PY" -m nscharacterize.cli ab "$CONFIG" "$CONFIG" --rounds "$ROUNDS" "${SAMPLES[@]}" --out "$OUT" \
    --markdown "$OUT/compare.md" --json "$OUT/compare.json" "$@"
rc=$?
echo "ci_gate: compare exit $rc after $(( $(date +%s) - start )) s; report $OUT/compare.md" >&2
exit $rc
