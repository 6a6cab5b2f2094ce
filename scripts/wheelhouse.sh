#!/usr/bin/env bash
# Wheels for installing nscharacterize where there is no package registry (a lent GPU machine, an
# air-gapped cluster) next to the torch that is already there. Run it where PyPI is reachable:
#   bash scripts/wheelhouse.sh DIR [PYTHON_VERSION] [PLATFORM] [HAVE]  (default 3.12, manylinux_2_28_x86_64)
# It downloads binary wheels of every dependency in pyproject.toml except torch and torchvision
# (GPU machines bring their own CUDA build), plus setuptools to build the editable install (the
# script itself needs Python 3.11+ and pip where it runs). Carry
# DIR and the checkout over, then, in the environment that has torch:
#   pip install --no-index --find-links DIR -e .
# Every wheel is about 155 MB for CPython 3.12. To carry only what the target lacks, save its
# `pip freeze` there and pass that file as HAVE: its versions are preferred (used as constraints;
# where they conflict with a dependency's pins, the download is redone without them), and the
# wheels of packages it already has at exactly that version are dropped.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: scripts/wheelhouse.sh DIR [PYTHON_VERSION] [PLATFORM]}
py=${2:-3.12}
platform=${3:-manylinux_2_28_x86_64}
have=${4:-}
reqs=$(mktemp)
trap 'rm -f "$reqs"' EXIT
# pip evaluates environment markers with the Python running it, not --python-version: the
# project's own markers are evaluated here for the target instead. Dependencies' markers are still
# pip's to evaluate, so run this script with the target's Python version where you can.
python3 - "$py" > "$reqs" <<'PY'
import re, sys, tomllib
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)
target = {"python_version": sys.argv[1], "python_full_version": sys.argv[1] + ".0"}
for dep in project["project"]["dependencies"] + project["build-system"]["requires"]:
    req = Requirement(dep)
    if req.name in ("torch", "torchvision") or (req.marker and not req.marker.evaluate(target)):
        continue
    req.marker = None
    print(req)
PY
mkdir -p "$dir"
# pip does not widen a given manylinux tag to the older ones the same machine accepts: list them
platforms=(--platform "$platform")
if [[ $platform =~ ^manylinux_2_([0-9]+)_(.+)$ ]]; then
    for ((minor = BASH_REMATCH[1] - 1; minor >= 17; minor--)); do
        platforms+=(--platform "manylinux_2_${minor}_${BASH_REMATCH[2]}")
    done
    platforms+=(--platform "manylinux2014_${BASH_REMATCH[2]}" --platform "any")
fi
download() {
    python3 -m pip download -q --dest "$dir" --only-binary=:all: --python-version "$py" "${platforms[@]}" \
        --implementation cp "$@" -r "$reqs"
}
if [ -n "$have" ]; then
    pins=$(mktemp)
    grep -E '^[A-Za-z0-9_.-]+==' "$have" > "$pins" || true
    download -c "$pins" || { echo "wheelhouse: the target's versions conflict with the pins; downloading the newest"; download; }
    python3 - "$dir" "$pins" <<'PY'
import re, sys
from pathlib import Path
norm = lambda name: re.sub(r"[-_.]+", "_", name).lower()
have = {(norm(n), v) for n, v in (line.strip().split("==", 1) for line in open(sys.argv[2]) if "==" in line)}
dropped = [w for w in Path(sys.argv[1]).glob("*.whl") if (norm(w.name.split("-")[0]), w.name.split("-")[1]) in have]
for wheel in dropped:
    wheel.unlink()
print(f"wheelhouse: dropped {len(dropped)} wheels the target already has at the same version")
PY
    rm -f "$pins"
else
    download
fi
echo "wheelhouse: $(ls "$dir" | wc -l) wheels in $dir for CPython $py on $platform (torch and torchvision not included)"
