"""A run writes memory, sparsity and the counter probe's line beside the time, and the page shows them."""
from __future__ import annotations

import json

import pandas as pd
from clirun import printed_dir, run_cli, write_config

from nscharacterize.rundir import schemas
from nscharacterize.rundir.store import RunDir


def test_run_writes_memory_and_sparsity_per_category(tmp_path):
    cfg = write_config(tmp_path / "c.yaml", samples=1, repeats=1, warmup=0,
                       metrics={"sparsity": True, "counters": True, "samples": 2})
    proc = run_cli("run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    run = printed_dir(proc)
    memory = pd.read_csv(run / "memory.csv")
    assert set(memory["sample"]) == {0, 1}
    encoder = memory[(memory["component"] == "encoder") & (memory["sample"] == 0)].set_index("part")
    # mlp-demo's encoder: embedding 64 x 16 + Linear(16, 16) + Linear(16, 4), float32
    assert encoder.loc["parameters", "bytes"] == 4 * (64 * 16 + 16 * 16 + 16 + 16 * 4 + 4)
    assert encoder.loc["peak_intermediates", "bytes"] > 0
    assert (memory["part"] == "allocated").any()
    sparsity = pd.read_csv(run / "sparsity.csv")
    assert {"output", "input"} <= set(sparsity["side"])
    for table in (schemas.MEMORY, schemas.SPARSITY):   # read back through the schema the writer used
        back = RunDir(run).metrics(table)
        assert back is not None and back.columns.tolist() == table.names and len(back)
    assert (sparsity["zeros"] <= sparsity["elements"]).all()
    manifest = json.loads((run / "manifest.json").read_text())
    assert any(n.startswith("hardware counters: ") for n in manifest["notes"])
    table = (run / "table.md").read_text()
    assert "## Memory per component" in table and "## Sparsity per category" in table
    assert "Memory and sparsity" in (run / "report.html").read_text()
    # report rebuilds the sections from the saved files
    (run / "table.md").unlink()
    assert run_cli("report", str(run)).returncode == 0
    assert "## Sparsity per category" in (run / "table.md").read_text()


def test_metrics_off_writes_no_files(tmp_path):
    cfg = write_config(tmp_path / "c.yaml", samples=1, repeats=1, warmup=0, metrics={"memory": False})
    proc = run_cli("run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    run = printed_dir(proc)
    assert not (run / "memory.csv").exists() and not (run / "sparsity.csv").exists()
    assert "## Memory per component" not in (run / "table.md").read_text()
