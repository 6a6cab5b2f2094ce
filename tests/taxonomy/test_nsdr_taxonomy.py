"""Every op the NS-DR dynamics path and the PropNet workloads execute matches an explicit rule;
sparse products classify as sparse MM; the executor's functions land in Fig. 7's categories."""
from __future__ import annotations

import pytest

from nscharacterize.profiler.session import SessionSettings, profile_workload
from nscharacterize.taxonomy.classifier import Taxonomy
from nscharacterize.workloads.base import Workload
from nscharacterize.workloads.nsdr import NSDR
from nscharacterize.workloads.nsdr.workload import proposals_from_masks
from nscharacterize.workloads.propnet import PROPNET

TAX = Taxonomy()


def _events(workload: Workload):
    prof = profile_workload(workload, workload.name, SessionSettings(samples=1, warmup=0, repeats=1))
    return TAX.classify_events(prof.events)


@pytest.fixture(scope="module")
def nsdr_events(tmp_path_factory):
    """NS-DR after the frame parser (the shared parser's ops are checked with the parser)."""
    data = tmp_path_factory.mktemp("clevrer")
    w = NSDR.build({**NSDR.smoke, "frames": 5, "extra_steps": 3, "data_dir": str(data)}, seed=0)
    rest = Workload("nsdr-tail", list(w.components[1:]),
                    lambda n: [proposals_from_masks(s) for s in w.make_samples(n)])
    return _events(rest)


def test_nsdr_ops_have_explicit_rules_and_sparse_is_sparse(nsdr_events):
    ops = nsdr_events[nsdr_events["source"] == "op"]
    assert len(ops) > 0
    unmatched = sorted(set(ops.loc[ops["rule"] == "", "name"]))
    assert unmatched == [], unmatched
    sparse = ops[ops["name"].isin(["aten::_sparse_addmm", "aten::_sparse_mm"])]
    assert len(sparse) > 0 and set(sparse["category"]) == {"sparse_mm"}
    dyn = ops[ops["component"] == "dynamics_predictor"]
    assert {"conv", "gemm", "sparse_mm", "data_movement"} <= set(dyn["category"])


def test_nsdr_executor_functions_fall_in_fig7_categories(nsdr_events):
    py = nsdr_events[(nsdr_events["source"] == "python") & (nsdr_events["component"] == "executor")]
    sub = dict(zip(py["name"], py["subcategory"]))
    mod = "nscharacterize.workloads.nsdr.executor"
    assert sub[f"{mod}:run_program"] == "program_control"
    assert sub[f"{mod}:filter_collision"] == "feature_query"
    assert sub[f"{mod}:get_obj_idx"] == "feature_query"
    assert sub[f"{mod}:_np_average_velocity"] == "arithmetic"
    assert any(v == "parsing_io" for k, v in sub.items() if "json" in k)


@pytest.mark.parametrize("scenario", ["cradle", "box"])
def test_propnet_ops_have_explicit_rules(scenario):
    w = PROPNET.build({**PROPNET.smoke, "scenario": scenario, "steps": 14}, seed=0)
    ev = _events(w)
    ops = ev[ev["source"] == "op"]
    assert sorted(set(ops.loc[ops["rule"] == "", "name"])) == []
    cats = set(ops["category"])
    if scenario == "box":
        assert "sparse_mm" in cats
    else:
        assert "sparse_mm" not in cats and "gemm" in cats      # Cradle's relation matrices are dense
