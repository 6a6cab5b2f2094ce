"""Wrapping a Python number operand (`y + 1.0`) is the element-wise op's argument handling, not
data movement; copies of real tensors inside an element-wise op stay data movement."""
from __future__ import annotations

import pytest
import torch

from nscharacterize.profiler.events import events_frame, tagged
from nscharacterize.profiler.torch_backend import TorchSettings, capture
from nscharacterize.taxonomy.classifier import Taxonomy, scalar_inputs
from nscharacterize.taxonomy.rules import RuleFileError, load_rules


def _classified(fn):
    cap = capture(fn, None, "cpu", TorchSettings())
    ev = events_frame([tagged(cap.rows, workload="w", component="c", kind="neural", sample=0)])
    return Taxonomy().classify_events(ev)


def test_the_ops_that_wrap_a_python_number_are_element_wise():
    y = torch.randn(16)
    ev = _classified(lambda _: (y + 1.0, 2.0 * y, y > 0.5))
    wrap = ev[ev["ancestors"] != ""]
    assert {"aten::to", "aten::_to_copy", "aten::copy_"} <= set(wrap["name"])   # torch records the wrapping
    assert set(wrap["category"]) == {"elementwise"} and set(wrap["rule"]) == {"scalar-operand"}
    assert (ev["category"] == "data_movement").sum() == 0


def test_a_real_tensor_converted_inside_an_element_wise_op_is_still_data_movement():
    y, k = torch.randn(16), torch.arange(16)
    ev = _classified(lambda _: torch.where(y > 0, y, k))     # promotes the long tensor: a copy of 16 elements
    copies = ev[ev["name"].isin(["aten::to", "aten::_to_copy", "aten::copy_"]) & (ev["ancestors"].str.startswith("aten::where"))]
    assert len(copies) and set(copies["category"]) == {"data_movement"}
    alloc = ev[(ev["name"] == "aten::empty_strided") & ev["ancestors"].str.startswith("aten::where")]
    assert set(alloc["category"]) == {"other"}                # a 16-element buffer: the allocation rule


def test_scalar_inputs_reads_shapes_and_sizes():
    import pandas as pd
    ev = pd.DataFrame({"input_shapes": ["[[], [], []]", "[[16], []]", "", "[[], []]", "[[], []]"],
                       "concrete_inputs": ["[null, false]", "", "", "[[], null]", "[[4], null]"]})
    assert scalar_inputs(ev).tolist() == [True, False, False, True, False]


def test_the_scalar_key_must_be_a_boolean(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("namespace: ops\nrules:\n  - match: 'aten::to'\n    scalar: 'yes'\n    category: other\n"
                   "    reason: r\n")
    with pytest.raises(RuleFileError, match="scalar"):
        load_rules("ops", (bad,))
