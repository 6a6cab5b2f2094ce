"""Every built-in workload, at its smoke size: runs end to end, and every op it executes has an
explicit taxonomy rule (new built-ins are covered automatically)."""
from __future__ import annotations

import numpy as np
import pytest

from nscharacterize.profiler.session import SessionSettings, profile_workload
from nscharacterize.attribution.aggregate import attribute
from nscharacterize.taxonomy.classifier import Taxonomy
from nscharacterize.workloads.registry import builtin_names, get_spec


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_smoke_run_is_fully_classified(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # synthetic data sets are generated under the working directory
    spec = get_spec(name)
    workload = spec.build(spec.smoke, seed=0)
    prof = profile_workload(workload, name, SessionSettings(samples=1, warmup=0, repeats=1))
    events = Taxonomy().classify_events(prof.events)
    ops = events[events["source"] == "op"]
    assert len(ops) > 0 or all(c.profiler == "cprofile" for c in workload.components)
    assert sorted(set(ops.loc[ops["rule"] == "", "name"])) == []
    assert list(prof.timings["component"]) == [c.name for c in workload.components]
    checks = attribute(events, prof.timings).checks
    np.testing.assert_array_less(checks["addup_error_s"], 1e-9 + 1e-9 * checks["wall_s"])
