"""Installing into an environment that already has the user's torch keeps that torch.

A GPU user's venv has a CUDA build of torch. The test makes a fresh venv that sees this
interpreter's packages (torch included) the way `python -m venv --system-site-packages` would,
then runs the README's `pip install -e .`. pip must keep the visible torch: nothing lands in the
new venv's site-packages but this project (and what an isolated build needs)."""
from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def test_pip_install_keeps_the_existing_torch(tmp_path):
    env_dir = tmp_path / "userenv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    visible = [p for p in sys.path if p.endswith("site-packages")]
    (site / "zz_existing_env.pth").write_text("\n".join(visible) + "\n")
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "-e", str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (site / "torch").exists() and not list(site.glob("torch-*"))  # the user's torch was kept
    assert not (site / "torchvision").exists() and not (site / "numpy").exists()
    check = subprocess.run([str(py), "-c", "import torch, nscharacterize.cli, nscharacterize.profiler.chrome_trace; "
                            "print(torch.__version__); print(torch.__file__)"],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr
    version, location = check.stdout.split()
    assert version == torch.__version__ and location == torch.__file__
    cli = subprocess.run([str(env_dir / "bin" / "nscharacterize"), "list"], capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0 and "mlp-demo" in cli.stdout, cli.stderr
