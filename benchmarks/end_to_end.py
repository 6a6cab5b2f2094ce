"""End-to-end wall time of `nscharacterize run` on the quickstart config, as a user runs it.

    python benchmarks/end_to_end.py [CONFIG]     # default configs/quickstart.yaml (configs/compat.yaml tiny)
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = os.environ.get("NSC_BENCH_TINY") == "1"   # a tiny size for tests/benchmarks/test_smoke.py


def main(config: str = "configs/quickstart.yaml") -> int:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "nscharacterize.cli", "run", config, "--out", out, "--quiet"],
                              cwd=ROOT, capture_output=True, text=True)
        secs = time.perf_counter() - start
    status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    print(f"nscharacterize run {config}: {secs:.1f} s end to end ({status})")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:] or (["configs/compat.yaml"] if TINY else [])))
