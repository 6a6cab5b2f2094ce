"""Synthetic run directories in the run-directory format, for the compare/baseline/history tests."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from nscharacterize.rundir.schemas import TIMINGS
from nscharacterize.rundir.manifest import config_hash
from nscharacterize.taxonomy.categories import CATEGORIES as CATS

# workload -> component -> (kind, {category: mean seconds per sample})
DEFAULT = {
    "mlp-demo": {
        "encoder": ("neural", {"gemm": 4e-3, "sparse_mm": 1e-3, "elementwise": 1.5e-3, "embedding": 5e-4,
                               "data_movement": 8e-4, "data_transform": 3e-4, "other": 1e-3}),
        "reasoner": ("symbolic", {"other": 2e-3}),
    },
    "toy-b": {
        "net": ("neural", {"conv": 6e-3, "elementwise": 2e-3, "data_movement": 1e-3, "other": 5e-4}),
    },
}

FINGERPRINT = {"python": "3.11.7", "torch": "2.4.0", "torchvision": "0.19.0", "numpy": "1.26.4",
               "platform": "Linux-x86_64", "cpu_model": "Fake CPU @ 3GHz", "threads": 2, "device": "cpu",
               "device_name": "cpu", "cuda": None, "driver": None}


def make_run(path: Path, *, workloads: dict | None = None, n: int = 20, noise: float = 0.05, seed: int = 0,
             scale: dict | None = None, config: dict | None = None, fingerprint: dict | None = None,
             commit: str | None = "a" * 40, created: str = "2026-11-21T00:00:00+00:00",
             failed: tuple = (), sizes: list[float] | None = None) -> Path:
    """Writes a run directory; ``scale`` maps (workload, component, category) -> factor (planted change);
    ``sizes`` multiplies sample i's times by ``sizes[i % len(sizes)]`` in every run alike (samples that
    differ in size: the same seeded inputs, whatever the run)."""
    workloads = workloads or DEFAULT
    scale = scale or {}
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    cfg = config or {"name": "fake", "seed": 0, "samples": n, "workloads": [{"name": w} for w in workloads]}
    cfg_text = yaml.safe_dump(cfg, sort_keys=True)
    chash = config_hash(cfg)
    rows, trows = [], []
    for wl, comps in workloads.items():
        if wl in failed:
            continue
        for comp, (kind, cats) in comps.items():
            for s in range(n):
                total = 0.0
                for cat in CATS:
                    m = cats.get(cat, 0.0) * scale.get((wl, comp, cat), 1.0) * (sizes[s % len(sizes)] if sizes else 1.0)
                    if m <= 0:
                        continue
                    t = float(m * rng.lognormal(0.0, noise))
                    total += t
                    rows.append((wl, comp, kind, "cpu", "category", cat, s, t))
                trows.append((wl, comp, kind, "torch", "cpu", s, total, total, total, 1, total * 1.3, 1.3, None))
    samples = pd.DataFrame(rows, columns=["workload", "component", "kind", "device", "axis", "category", "sample",
                                          "time_s"])
    samples.to_csv(path / "samples.csv", index=False)
    pd.DataFrame(trows, columns=[c.name for c in TIMINGS.columns if c.required]).to_csv(path / "timings.csv", index=False)
    g = samples.groupby(["workload", "component", "kind", "device", "axis", "category"], sort=False)["time_s"]
    bd = pd.DataFrame({"time_s": g.mean(), "std_s": g.std(), "p25_s": g.quantile(.25), "p75_s": g.quantile(.75),
                       "min_s": g.min(), "max_s": g.max(), "n_samples": g.count()}).reset_index()
    tot = bd.groupby(["workload", "component"])["time_s"].transform("sum")
    bd.insert(7, "share", bd["time_s"] / tot)
    bd.to_csv(path / "breakdown.csv", index=False)
    (path / "config.yaml").write_text(cfg_text)
    fp = {**FINGERPRINT, **(fingerprint or {}), "config_hash": chash}
    manifest = {"schema": 1, "name": cfg.get("name", "fake"), "status": "partial" if failed else "ok",
                "created": created, "finished": created, "command": ["nscharacterize", "run", "fake.yaml"],
                "git_commit": commit, "seed": 0, "samples": n, "warmup": 1, "repeats": 1,
                "config_hash": chash, "fingerprint": fp, "checks": {},
                "workloads": [{"name": w, "workload": w, "samples": n, "status": "error" if w in failed else "ok",
                               "error": "boom" if w in failed else None} for w in workloads]}
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return path


_WAIT_AND_RUN = """
import sys, time
from pathlib import Path
import nscharacterize.cli as cli
import nscharacterize.gate.baselines, nscharacterize.gate.history  # imported before the start signal
Path(sys.argv[1]).touch()
while not Path(sys.argv[2]).exists():
    time.sleep(0.001)
sys.exit(cli.main(sys.argv[3:]))
"""


def concurrent_cli(commands: list[tuple[str, ...]], tmp: Path, timeout: float = 300):
    """Runs each command in its own CLI process, all released at the same instant once every process
    has started and imported, so that they really overlap. Returns their CompletedProcess results."""
    import os
    import subprocess
    import sys
    import time

    sync = tmp / f"sync-{time.monotonic_ns()}"
    sync.mkdir()
    go = sync / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent),
                                                                     os.environ.get("PYTHONPATH")]))}
    procs = [subprocess.Popen([sys.executable, "-c", _WAIT_AND_RUN, str(sync / f"ready{i}"), str(go), *cmd],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i, cmd in enumerate(commands)]
    deadline = time.monotonic() + timeout
    while not all((sync / f"ready{i}").exists() for i in range(len(procs))):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            break
        time.sleep(0.01)
    go.touch()
    out = []
    for cmd, p in zip(commands, procs):
        stdout, stderr = p.communicate(timeout=timeout)
        out.append(subprocess.CompletedProcess(list(cmd), p.returncode, stdout, stderr))
    return out
