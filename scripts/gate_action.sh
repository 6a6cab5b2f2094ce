#!/usr/bin/env bash
# The GitHub Action's work (action.yml at the repository root): gate a pull request's base against
# its head, both measured in this job, interleaved (`nscharacterize compare --refs`), in the user's
# own repository. One script, so that it runs the same on a laptop and in a test (no network).
#
# Environment (action inputs; GitHub's own variables where they exist):
#   NSC_CONFIG    the config to run at both refs (required; a path in the repository)
#   NSC_BASE      base ref (default: origin/$GITHUB_BASE_REF, fetched from origin when missing)
#   NSC_HEAD      head ref (default: HEAD)
#   NSC_ROUNDS    interleaved rounds per side (default 3: A B, B A, A B)
#   NSC_SAMPLES   samples per round (default: the config's)
#   NSC_OUT       report folder (default nsc-gate): compare.md, compare.json, compare.html, A/, B/, rounds/
#   NSC_ARGS      extra arguments for compare (e.g. "--rel-threshold 0.3")
#   NSC_PYTHON    the Python to use (default python3)
#   NSC_INSTALL   a pip requirement to install nscharacterize from first (default: NSC_ACTION_PATH, the
#                 action's own checkout; 'none' or neither set: no install, use the one on NSC_PYTHON)
#   NSC_TORCH_INDEX  a pip index for torch, installed first when set (e.g. the CPU-only wheels)
#   GITHUB_STEP_SUMMARY, GITHUB_OUTPUT  where the Markdown table and the step's outputs go (when set)
# Outputs: exit-code, status (PASS, FAIL, INCONCLUSIVE, ERROR), report-dir.
# Exit status: compare's: 0 pass, 1 regression, 2 bad input, 3 inconclusive (the data cannot decide).
set -uo pipefail
PY=${NSC_PYTHON:-python3}
OUT=${NSC_OUT:-nsc-gate}
ROUNDS=${NSC_ROUNDS:-3}
HEAD_REF=${NSC_HEAD:-HEAD}
out() { [ -n "${GITHUB_OUTPUT:-}" ] && echo "$1=$2" >> "$GITHUB_OUTPUT"; return 0; }
summary() { [ -n "${GITHUB_STEP_SUMMARY:-}" ] && cat >> "$GITHUB_STEP_SUMMARY"; return 0; }
fail() {   # one line, as every nscharacterize error: exit 2
  echo "gate_action: error: $1" >&2
  printf '### nscharacterize gate: error\n\n%s\n' "$1" | summary
  out exit-code 2; out status ERROR; out report-dir "$OUT"
  exit 2
}

[ -n "${NSC_CONFIG:-}" ] || fail "NSC_CONFIG (input config): missing; name the config to run at both refs"
[ -f "$NSC_CONFIG" ] || fail "$NSC_CONFIG: no such config in $(pwd); pass a path relative to the repository root"

if [ -n "${NSC_TORCH_INDEX:-}" ] && [ "${NSC_INSTALL:-}" != none ]; then
  "$PY" -m pip install --quiet torch torchvision --index-url "$NSC_TORCH_INDEX" || fail "pip could not install torch from $NSC_TORCH_INDEX"
fi
INSTALL=${NSC_INSTALL:-${NSC_ACTION_PATH:-}}
[ "$INSTALL" = none ] && INSTALL=
if [ -n "$INSTALL" ]; then
  "$PY" -m pip install --quiet "$INSTALL" || fail "pip could not install nscharacterize from $INSTALL"
fi
"$PY" -c "import nscharacterize" 2> /dev/null || fail "$PY cannot import nscharacterize; install it (input install)"


BASE_REF=${NSC_BASE:-}
if [ -z "$BASE_REF" ]; then
  [ -n "${GITHUB_BASE_REF:-}" ] || fail "no base ref: set NSC_BASE (input base) or run on a pull_request event (GITHUB_BASE_REF)"
  BASE_REF="origin/$GITHUB_BASE_REF"
  if ! git rev-parse --verify --quiet "$BASE_REF^{commit}" > /dev/null; then
    git fetch --quiet --no-tags origin "$GITHUB_BASE_REF:refs/remotes/origin/$GITHUB_BASE_REF" \
      || fail "cannot fetch the base branch $GITHUB_BASE_REF from origin; check out with fetch-depth: 0"
  fi
fi

rm -rf "$OUT"
mkdir -p "$OUT"
extra=()
[ -n "${NSC_ARGS:-}" ] && read -r -a extra <<< "$NSC_ARGS"
samples=()
[ -n "${NSC_SAMPLES:-}" ] && samples=(--samples "$NSC_SAMPLES")
echo "gate_action: $BASE_REF against $HEAD_REF with $NSC_CONFIG, $ROUNDS rounds per side" >&2
"$PY" -m nscharacterize.cli compare --refs "$BASE_REF" "$HEAD_REF" "$NSC_CONFIG" --rounds "$ROUNDS" "${samples[@]}" \
  --out "$OUT" --markdown "$OUT/compare.md" --json "$OUT/compare.json" --html "$OUT/compare.html" "${extra[@]}" \
  2> >(tee "$OUT/compare.log" >&2)
rc=$?
wait   # the tee of stderr
case $rc in
  0) status=PASS ;; 1) status=FAIL ;; 3) status=INCONCLUSIVE ;; *) status=ERROR ;;
esac
if [ -f "$OUT/compare.md" ]; then
  summary < "$OUT/compare.md"
else
  { printf '### nscharacterize gate: %s (exit %s)\n\n```\n' "$status" "$rc"; tail -n 5 "$OUT/compare.log"; printf '```\n'; } | summary
fi
out exit-code "$rc"; out status "$status"; out report-dir "$OUT"
echo "gate_action: $status (exit $rc); reports in $OUT" >&2
exit $rc
