#!/usr/bin/env bash
# The checks only a GPU machine can do, prepared for the first session that is lent one (a few
# minutes on one GPU). Run from the repository root:
#
#   OUT=/some/folder scripts/gpu_check.sh            # everything lands under $OUT
#   OUT=/tmp/x scripts/gpu_check.sh --dry-run         # CPU only: write the steps, run none
#
# Steps (stdout in $OUT/<step>.log, stderr in $OUT/<step>.err; one line per step in $OUT/summary.tsv: step, exit status,
# seconds; a failed step does not stop the next):
#   env           nvidia-smi, torch and CUDA versions
#   cuda-tests    every CUDA test: those marked `cuda` and those decorated `@cuda` (tests/support/clirun.py)
#   quickstart    run configs/quickstart.yaml --device cuda --samples 1 --trace
#   paper-NAME    run configs/paper/NAME.yaml --device cuda --samples 1 (each under PAPER_TIMEOUT s)
#   import-trace  import-trace of the Chrome traces the quickstart run wrote
#   ncu-*         only if `ncu` is on PATH: a plain CUDA run of NCU_CONFIG, the same config under ncu
#                 with --nvtx, the raw-page CSV export, and ncu-import of it into the plain run
#                 (docs/guide/metrics.md, "Measured roofline points with Nsight Compute")
# Environment: PYTHON (default python), PAPER_TIMEOUT and NCU_TIMEOUT (seconds a step may take),
# PAPER (the paper configs to run, in that order, by name: "nscl nsdr nlm-sort"; default all),
# SKIP_NCU=1 (no Nsight Compute steps: a session with little device time).
# Exit status: 0 when every step that ran passed, 1 otherwise.
set -u

DRY=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY=1 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: error: unknown argument $arg; use --dry-run or nothing" >&2; exit 2 ;;
    esac
done

OUT=${OUT:-gpu-check-out}
PY=${PYTHON:-python}
PAPER_TIMEOUT=${PAPER_TIMEOUT:-240}
NCU_TIMEOUT=${NCU_TIMEOUT:-420}
mkdir -p "$OUT" || { echo "gpu_check.sh: error: cannot create $OUT; set OUT to a writable folder" >&2; exit 2; }
OUT=$(cd "$OUT" && pwd)
CLI="$PY -m nscharacterize.cli"
SUMMARY="$OUT/summary.tsv"
printf 'step\tstatus\tseconds\n' > "$SUMMARY"
FAILED=0

# step NAME TIMEOUT COMMAND...: runs COMMAND (a shell string) with its output in $OUT/NAME.log.
step() {
    local name=$1 limit=$2 cmd=$3
    if [ "$DRY" = 1 ]; then
        printf 'DRY\t%s\t%s\n' "$name" "$cmd" >> "$OUT/steps.log"
        printf '%s\tdry\t0\n' "$name" >> "$SUMMARY"
        return 0
    fi
    printf 'RUN\t%s\t%s\n' "$name" "$cmd" >> "$OUT/steps.log"
    local start=$SECONDS
    timeout --kill-after=15 "$limit" bash -c "$cmd" > "$OUT/$name.log" 2> "$OUT/$name.err"
    local rc=$?
    printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - start))" >> "$SUMMARY"
    [ "$rc" = 0 ] || FAILED=1
    echo "gpu_check: $name: exit $rc ($((SECONDS - start)) s)" >&2
    return $rc
}

# The last run directory a `run` step printed (its stdout's last line).
run_dir_of() { tail -n 1 "$OUT/$1.log" 2>/dev/null; }

: > "$OUT/steps.log"
step env 60 "nvidia-smi; $PY -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else \"no GPU\")'"

# Tests decorated @cuda (tests/support/clirun.py) are found by name, the def after the decorator;
# `-m cuda` would deselect those without the marker, so they run in a step of their own.
DECORATED_FILES=$(grep -rl '^@cuda' tests --include='*.py' 2>/dev/null)
DECORATED=""
if [ -n "$DECORATED_FILES" ]; then
    DECORATED=$(awk 'FNR == 1 { armed = 0 } /^@cuda[[:space:]]*$/ { armed = 1; next }
                     armed && /^def test_/ { sub(/^def /, ""); sub(/\(.*/, ""); print FILENAME "::" $0; armed = 0 }' \
                $DECORATED_FILES | tr '\n' ' ')
fi
step cuda-tests-marked 900 "$PY -m pytest -q -rs -p no:cacheprovider -m cuda tests --junitxml=$OUT/cuda-tests-marked.xml"
if [ -n "$DECORATED" ]; then
    step cuda-tests-decorated 900 "$PY -m pytest -q -rs -p no:cacheprovider $DECORATED --junitxml=$OUT/cuda-tests-decorated.xml"
fi

step quickstart "$PAPER_TIMEOUT" "$CLI run configs/quickstart.yaml --device cuda --samples 1 --trace --out $OUT/runs --quiet"
QUICK=$(run_dir_of quickstart)

for cfg in ${PAPER:-configs/paper/*.yaml}; do
    case "$cfg" in */*) ;; *) cfg="configs/paper/$cfg.yaml" ;; esac   # PAPER may name configs by name
    name=$(basename "$cfg" .yaml)
    step "paper-$name" "$PAPER_TIMEOUT" "$CLI run $cfg --device cuda --samples 1 --out $OUT/runs --quiet"
done

if [ "$DRY" = 1 ]; then
    step import-trace 300 "$CLI import-trace QUICKSTART_RUN/traces/*.json.gz --out $OUT/imported --name quickstart-traces --quiet"
elif [ -n "$QUICK" ] && ls "$QUICK"/traces/*.json.gz > /dev/null 2>&1; then
    step import-trace 300 "$CLI import-trace $QUICK/traces/*.json.gz --out $OUT/imported --name quickstart-traces --quiet"
else
    printf 'import-trace\tskipped: the quickstart run wrote no traces\t0\n' >> "$SUMMARY"
    FAILED=1
fi

# Nsight Compute: a small config by default (every kernel is replayed once per metric pass).
NCU_CONFIG=${NCU_CONFIG:-$OUT/ncu-config.yaml}
if [ "$NCU_CONFIG" = "$OUT/ncu-config.yaml" ]; then
    cat > "$NCU_CONFIG" <<'YAML'
name: ncu-check
seed: 0
device: cuda
samples: 1
warmup: 1
repeats: 2
workloads:
  - workload: mlp-demo
  - workload: nlm-sort
    params: {n: 10}
YAML
fi
if [ "${SKIP_NCU:-0}" = 1 ]; then
    printf 'ncu\tskipped: SKIP_NCU=1\t0\n' >> "$SUMMARY"
elif [ "$DRY" = 1 ] || command -v ncu > /dev/null 2>&1; then
    METRICS=$($PY -c 'from nscharacterize.profiler.ncu_report import metrics_flag; print(metrics_flag())' 2>/dev/null \
              || echo METRICS)
    step ncu-plain-run "$PAPER_TIMEOUT" "$CLI run $NCU_CONFIG --device cuda --out $OUT/runs-plain --quiet"
    PLAIN=$(run_dir_of ncu-plain-run)
    step ncu-collect "$NCU_TIMEOUT" "ncu --target-processes all --nvtx -f -o $OUT/nsc --metrics $METRICS $CLI run $NCU_CONFIG --device cuda --nvtx --out $OUT/runs-under-ncu --quiet"
    step ncu-export 120 "ncu --import $OUT/nsc.ncu-rep --csv --page raw > $OUT/nsc.csv && gzip -kf $OUT/nsc.csv"
    step ncu-import 300 "$CLI ncu-import $OUT/nsc.csv ${PLAIN:-PLAIN_RUN}"
else
    printf 'ncu\tskipped: ncu is not on PATH\t0\n' >> "$SUMMARY"
fi

cat "$SUMMARY" >&2
exit $FAILED
