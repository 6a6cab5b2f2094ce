"""End to end with real runs: two-config interleaved A/B through the CLI, a planted regression caught,
unchanged code passing, and the CI suite config kept in step with the registry."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nscharacterize.reports.compare import compare_runs

ROOT = Path(__file__).resolve().parents[1]

# Big enough that 300 clones of a 64x256 tensor add well over the 0.1 ms floor per sample.
BASE = {"name": "e2e", "seed": 0, "device": "cpu", "threads": 1, "samples": 4, "warmup": 1, "repeats": 3,
        "workloads": [{"workload": "mlp-demo", "params": {"objects": 64, "hidden": 256}}]}


def _write(path: Path, copies: int) -> Path:
    cfg = json.loads(json.dumps(BASE))
    if copies:
        cfg["workloads"][0]["params"]["copies"] = copies
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_ab_two_configs_catches_planted_regression_and_passes_unchanged(tmp_path):
    a, b = _write(tmp_path / "a.yaml", 0), _write(tmp_path / "b.yaml", 300)
    out = tmp_path / "ab"
    proc = subprocess.run([sys.executable, "-m", "nscharacterize.cli", "ab", str(a), str(b), "--rounds", "2",
                           "--out", str(out), "--json", str(tmp_path / "ab.json"), "--markdown", str(tmp_path / "ab.md")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # ABBA order, each side merged from its two rounds
    rounds = sorted(p.name for p in (out / "rounds").iterdir())
    assert rounds == ["00-A", "00-B", "01-A", "01-B"]
    order = [ln.split("]")[0] for ln in proc.stderr.splitlines() if ln.startswith("[")]
    assert order == ["[A", "[B", "[B", "[A"]
    assert "config differs: workloads[0].params.copies" in proc.stdout
    data = json.loads((tmp_path / "ab.json").read_text())
    reg = {(r["workload"], r["component"], r["category"]) for r in data["rows"] if r["verdict"] == "regressed"}
    assert ("mlp-demo", "encoder", "data_movement") in reg
    # the planted change is data movement: no other category of the encoder regressed
    assert not {k for k in reg if k[1] == "encoder" and k[2] not in ("data_movement", "total")}, reg
    merged = [r for r in data["rows"] if r["category"] == "data_movement" and r["component"] == "encoder"][0]
    assert merged["n_base"] == merged["n_new"] == 8
    # unchanged code: the two rounds of the same side compare clean (separate processes, minutes apart)
    ra, rb = (next(p for p in (out / "rounds" / r).iterdir() if (p / "manifest.json").exists())
              for r in ("00-A", "01-A"))
    cmp = compare_runs(ra, rb)
    assert cmp.exit_code == 0, [(r.workload, r.component, r.category, r.ratio, r.p_value) for r in cmp.rows
                                if r.verdict == "regressed"]


def test_ab_bad_config_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("workloads: [{workload: no-such-thing}]\n")
    good = _write(tmp_path / "a.yaml", 0)
    proc = subprocess.run([sys.executable, "-m", "nscharacterize.cli", "ab", str(good), str(bad), "--rounds", "1",
                           "--samples", "1", "--out", str(tmp_path / "o")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("nscharacterize: error: ") and "bad.yaml" in last and "Traceback" not in proc.stderr


def test_ci_suite_matches_registry():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "ci_config.py"), "--check"], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    cfg = yaml.safe_load((ROOT / "configs" / "ci.yaml").read_text())
    from nscharacterize.config import load_config

    load_config(ROOT / "configs" / "ci.yaml")
    assert cfg["device"] == "cpu" and cfg["samples"] >= 3
