"""The trace path of the live capture gives the same event table as torch's prof.events() path,
on one and the same real profile; and the reader handles both .json and .json.gz."""
from __future__ import annotations

import gzip
import shutil

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from nscharacterize.profiler import chrome_trace, function_events, trace_events
from nscharacterize.profiler.events import KEY, events_frame, tagged


def _model_call():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1, stride=2), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 8 * 8, 10))
    x = torch.randn(2, 3, 16, 16)

    def fn():
        with torch.no_grad(), torch.profiler.record_function("user_range"):
            y = model(x)
            scale = torch.tensor(2.0) * torch.tensor(1.0)  # 0-d tensors: torch counts one flop
            z = torch.bmm(y.unsqueeze(0), y.t().unsqueeze(0)) * scale + torch.ones(1)
            return torch.cat([z, z], dim=1).sum(dim=(0, 1))  # a tensor-list argument
    fn()
    return fn


def test_trace_rows_equal_function_event_rows_on_one_profile(tmp_path):
    fn = _model_call()
    prof = profile(activities=[ProfilerActivity.CPU], record_shapes=True, with_flops=True, profile_memory=True)
    with prof:
        fn()
    path = tmp_path / "t.json"
    prof.export_chrome_trace(str(path))
    keys = dict(workload="w", component="c", kind="neural", sample=0)
    old = events_frame([tagged(function_events.rows(prof, "cpu"), **keys)])
    trace = chrome_trace.load(path)
    new_rows, facts = trace_events.rows(trace, "cpu")
    new = events_frame([tagged(new_rows, **keys)])
    assert set(new["source"]) == {"op", "annotation"} and facts.kernel_launches == 0
    assert (new["gpu_idle_self_us"] == 0).all() and (new["gpu_busy_us"] == 0).all()  # CPU: nothing changes
    if not trace.ns_resolution:  # torch 2.3: whole microseconds; compare per op name
        a, b = (f.groupby("name")[["calls", "self_cpu_us", "flops"]].sum() for f in (new, old))
        assert a.index.equals(b.index) and (a["calls"] == b["calls"]).all()
        # an event's and each child's duration are rounded: a few us per event at most
        assert ((a["self_cpu_us"] - b["self_cpu_us"]).abs() <= 2 * a["calls"] + 5 + 0.05 * b["self_cpu_us"]).all()
        assert (a["flops"] == b["flops"]).all() and a.loc["aten::conv2d", "flops"] > 0
        return
    assert len(new) == len(old) > 20
    merged = new.merge(old, on=KEY, how="outer", suffixes=("_new", "_old"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][["name", "_merge"]]
    for col in ("calls", "flops", "bytes"):
        np.testing.assert_array_equal(merged[col + "_new"], merged[col + "_old"], err_msg=col)
    assert merged.loc[merged["name"] == "aten::conv2d", "flops_new"].iloc[0] > 0  # flops recomputed from dims
    # both paths keep a tensor list's shapes nested, dtypes per argument and the sizing arguments
    cat = new[new["name"] == "aten::cat"].iloc[0]
    assert cat["input_shapes"] == "[[[1, 2, 2], [1, 2, 2]], []]" and cat["input_dtypes"] == "TensorList,Scalar"
    total = new[new["name"] == "aten::sum"].iloc[0]
    assert total["concrete_inputs"] == "[null, [0, 1], false, null]" and total["input_dtypes"].endswith(",")
    conv = new[new["name"] == "aten::conv2d"].iloc[0]
    assert conv["concrete_inputs"] == "[null, null, null, [2, 2], [1, 1], [1, 1], null]"
    np.testing.assert_allclose(merged["self_cpu_us_new"], merged["self_cpu_us_old"], atol=0.01)


def test_reader_reads_json_and_gzip_alike(tmp_path):
    src = tmp_path / "a.json"
    fn = _model_call()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        fn()
    prof.export_chrome_trace(str(src))
    gz = tmp_path / "a.json.gz"
    with open(src, "rb") as fin, gzip.open(gz, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    a, b = chrome_trace.load(src), chrome_trace.load(gz)
    assert len(a.host) == len(b.host) > 0 and a.span_us == b.span_us
    assert (a.host["self_us"] >= 0).all()
    # nesting: every child lies inside its parent on the same thread
    child = a.host[a.host["parent"] >= 0]
    par = a.host.loc[child["parent"]]
    assert (par["ts"].to_numpy() <= child["ts"].to_numpy()).all() and (par["tid"].to_numpy() == child["tid"].to_numpy()).all()
