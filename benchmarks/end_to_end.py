"""End-to-end wall time of `nscharacterize run` on the quickstart config, as a user runs it."""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(config: str = "configs/quickstart.yaml") -> None:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "nscharacterize.cli", "run", config, "--out", out, "--quiet"],
                              cwd=ROOT, capture_output=True, text=True)
        secs = time.perf_counter() - start
    status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    print(f"nscharacterize run {config}: {secs:.1f} s end to end ({status})")


if __name__ == "__main__":
    main(*sys.argv[1:])
