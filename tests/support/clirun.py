"""What the tests share: the repository's folders, CLI subprocess calls and small configs.

On the import path of every test (pyproject.toml, ``[tool.pytest.ini_options] pythonpath``) and on the
PYTHONPATH of every CLI subprocess, so the user-model modules beside it load as ``MODULE:FACTORY``."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

SUPPORT = Path(__file__).resolve().parent
TESTS = SUPPORT.parent
ROOT = TESTS.parent

# Two cores shared with the profiled work: torch's spinning intra-op threads make tiny ops erratic.
torch.set_num_threads(1)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600):
    """Runs `python -m nscharacterize.cli ARGS` in a subprocess, as a user would."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join([str(SUPPORT), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    full_env.setdefault("COLUMNS", "160")
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "nscharacterize.cli", *args], cwd=cwd or ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def printed_dir(proc: subprocess.CompletedProcess) -> Path:
    """The run or sweep directory a command wrote: the last line of its standard output (run,
    import-trace, sweep and ab print the path last, so that a script can capture it)."""
    return Path(proc.stdout.strip().splitlines()[-1])


def write_config(path: Path, **fields) -> Path:
    base = {"seed": 0, "device": "cpu", "samples": 2, "warmup": 1, "repeats": 2, "threads": 1,
            "workloads": [{"workload": "mlp-demo", "params": {"objects": 6, "hidden": 16}}]}
    base.update(fields)
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path
