"""A user's own git repository, made from scratch for the gate's `--refs` and GitHub Action tests.

It holds a model module (``mymodel.py``: a neural component and a Python rule), a control model
that never changes (``stable_model.py``), a config (``perf.yaml``) and no pyproject.toml: nothing
of nscharacterize's own layout. ``make_user_repo`` commits the base, a comment-only change and a
commit that doubles the neural component's loop (2x its time), and returns the three commits.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

MODEL = '''"""A user's model: a neural component and a Python rule over its output."""
import torch
from nscharacterize.workloads.base import Component, Workload

WORK = {work}   # loop count of the neural component{comment}


def pipeline(size: int = 256, seed: int = 0):
    torch.manual_seed(seed)
    w = torch.randn(size, size) / size ** 0.5

    def net(x):
        for _ in range(8 * WORK):
            x = torch.tanh(x @ w)
        return x

    def rules(x):
        return sum(1 for v in x[0].tolist() if v > 0)

    return Workload("pipeline", [Component("net", net, "neural", "torch"),
                                 Component("rules", rules, "symbolic", "cprofile")],
                    lambda n: [torch.randn(64, size, generator=torch.Generator().manual_seed(i)) for i in range(n)])
'''

CONFIG = """name: perf
seed: 0
device: cpu
threads: 1
samples: 3
warmup: 1
repeats: 2
workloads:
- workload: mymodel:pipeline
  name: model
- workload: stable_model:pipeline
  name: control
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def commit_model(repo: Path, work: int, comment: str, message: str) -> str:
    """Writes mymodel.py with loop count ``work`` and commits everything; returns the commit."""
    (repo / "mymodel.py").write_text(MODEL.format(work=work, comment=comment))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def make_user_repo(repo: Path, slow: bool = True) -> list[str]:
    """A fresh repository at ``repo``: base, comment-only change and (``slow``) the 2x slowdown."""
    git(repo, "init", "-q", "-b", "main")
    (repo / "stable_model.py").write_text(MODEL.format(work=1, comment=""))
    (repo / "perf.yaml").write_text(CONFIG)
    commits = [commit_model(repo, 1, "", "base"), commit_model(repo, 1, " (tuned later)", "comment only")]
    if slow:
        commits.append(commit_model(repo, 2, "", "slower model"))
    return commits
