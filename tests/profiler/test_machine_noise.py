"""What a run records about the machine (profiler/machine_noise.py): read from /proc, never failing."""
from __future__ import annotations

import json
import time

import pandas as pd

from clirun import run_cli, write_config
from nscharacterize.profiler.machine_noise import Recorder, repeat_spread


def test_recorder_measures_own_and_other_cpu_time():
    rec = Recorder(threads=1).start()
    t0 = time.process_time()
    while time.process_time() - t0 < 0.3:   # burn 0.3 s of this process's CPU
        pass
    m = rec.stop()
    assert m["own_cpu_s"] >= 0.29 and m["wall_s"] >= m["own_cpu_s"] * 0.5
    assert m["cpus"] >= 1 and len(m["load_before"]) == 3 and len(m["load_after"]) == 3
    assert m["other_cpu_s"] is not None and m["other_cpu_s"] >= 0 and 0 <= m["other_busy"] <= 1
    assert m["contention"] is not None and m["contention"] >= 1.0     # 1: the cores were free for it
    json.dumps(m)                                                     # plain numbers for the manifest


def test_an_interval_shorter_than_the_sampling_period_still_has_a_contention():
    """A workload faster than one sampling period (or a sampler starved on a loaded machine) must not
    leave the gate without its contention figure."""
    m = Recorder(threads=1).start().stop()
    assert m["runnable_mean"] is not None and m["contention"] is not None and m["contention"] >= 1.0


def test_repeat_spread_is_the_median_relative_range_of_repeats():
    t = pd.DataFrame({"wall_s": [1.0, 2.0, 1.0], "wall_min_s": [0.9, 1.8, 1.0], "wall_max_s": [1.1, 2.6, 1.0],
                      "repeats": [3, 3, 1]})
    assert repeat_spread(t) == 0.3    # (0.2/1, 0.8/2) -> median 0.3; the single repeat is left out
    assert repeat_spread(pd.DataFrame()) is None


def test_a_run_records_the_machine_in_its_manifest(tmp_path):
    cfg = write_config(tmp_path / "c.yaml", samples=1, repeats=2)
    proc = run_cli("run", str(cfg), "--out", str(tmp_path / "runs"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(next((tmp_path / "runs").rglob("manifest.json")).read_text())
    m = manifest["machine"]
    assert m["contention"] >= 1.0 and m["repeat_spread"] is not None and m["load_after"]
    wl = manifest["workloads"][0]["machine"]
    assert wl["wall_s"] > 0 and wl["contention"] >= 1.0
    proc = run_cli("compare", str(next((tmp_path / "runs").iterdir())), str(next((tmp_path / "runs").iterdir())))
    assert "machine during base (1 run): contention" in proc.stdout
