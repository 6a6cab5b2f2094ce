"""The classifier on real op names from real modules, its rule files, and its vectorised path."""
from __future__ import annotations

import pandas as pd
import pytest
import torch
import torchvision

from nscharacterize.profiler.torch_backend import TorchSettings, capture
from nscharacterize.profiler.events import COMPILED_GRAPH_RANGE, events_frame, tagged
from nscharacterize.taxonomy.classifier import Taxonomy
from nscharacterize.taxonomy.coverage import coverage
from nscharacterize.taxonomy.rules import RuleFileError, load_rules

TAX = Taxonomy()


def profiled_ops(fn, x) -> pd.DataFrame:
    """Real op events of one call, classified."""
    cap = capture(fn, x, "cpu", TorchSettings(record_shapes=True, with_flops=False, memory=False))
    return TAX.classify_events(events_frame([tagged(cap.rows, workload="t", component="c", kind="neural", sample=0)]))


def _no_unmatched(ev: pd.DataFrame):
    ops = ev[ev["source"] == "op"]
    missing = sorted(set(ops.loc[ops["rule"] == "", "name"]))
    assert not missing, f"ops without an explicit rule: {missing}"


@torch.no_grad()
def test_mask_rcnn_ops_all_have_rules():
    torch.manual_seed(0)
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, min_size=96, max_size=128, box_score_thresh=0.0,
        box_detections_per_img=4).eval()
    ev = profiled_ops(lambda x: model(x), [torch.rand(3, 96, 128)])
    _no_unmatched(ev)
    cats = ev.groupby("category", observed=True)["calls"].sum()
    assert cats.get("conv", 0) > 0 and cats.get("regional", 0) > 0  # convs, RoIAlign and NMS
    assert set(ev.loc[ev["name"].isin(["torchvision::roi_align", "torchvision::nms"]), "category"]) == {"regional"}


@torch.no_grad()
def test_transformer_embedding_and_sparse_ops_all_have_rules():
    torch.manual_seed(0)
    emb = torch.nn.Embedding(50, 32)
    bag = torch.nn.EmbeddingBag(50, 32)
    tr = torch.nn.Transformer(d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                              dim_feedforward=64, batch_first=True).eval()
    idx = torch.tensor([[0, 1, 2], [3, 4, 5]])
    adj = torch.sparse_coo_tensor(torch.tensor([[0, 1, 2], [1, 2, 0]]), torch.ones(3), (3, 3),
                                  check_invariants=False)

    def fn(_):
        src = emb(idx)
        out = tr(src, src[:, :2], tgt_mask=tr.generate_square_subsequent_mask(2))
        return out.sum() + bag(idx).sum() + torch.sparse.mm(adj, torch.randn(3, 4)).sum() \
            + torch.mm(adj, torch.randn(3, 4)).sum()

    ev = profiled_ops(fn, None)
    _no_unmatched(ev)
    by_name = ev.groupby("name")["category"].agg(set)
    assert by_name["aten::embedding"] == {"embedding"}
    assert "gemm" in by_name["aten::linear"]
    # every op inside the sparse product is sparse MM, including the dense addmm over nnz
    inside = ev[ev["ancestors"].str.contains("aten::_sparse_addmm", regex=False)]
    assert len(inside) > 0 and set(inside["category"]) == {"sparse_mm"}
    # the op over the sparse product: aten::mm on current torch, aten::_sparse_mm on torch 2.3
    top_mm = ev[ev["name"].isin(["aten::mm", "aten::_sparse_mm"]) & ev["children"].str.contains("_sparse_addmm", regex=False)]
    assert set(top_mm["category"]) == {"sparse_mm"}
    dense_addmm = ev[(ev["name"] == "aten::addmm") & ~ev["ancestors"].str.contains("sparse")]
    assert set(dense_addmm["category"]) == {"gemm"}


@pytest.mark.parametrize("name,category", [
    ("aten::softmax", "elementwise"), ("aten::_log_softmax", "elementwise"), ("aten::sum", "elementwise"),
    ("aten::amax", "elementwise"), ("aten::cat", "data_movement"), ("aten::stack", "data_movement"),
    ("aten::copy_", "data_movement"), ("aten::index_put_", "data_movement"), ("aten::index", "data_transform"),
    ("aten::index_select", "data_transform"), ("aten::nonzero", "data_transform"), ("aten::topk", "data_transform"),
    ("aten::view", "data_transform"), ("aten::permute", "data_transform"), ("aten::upsample_nearest2d", "regional"),
    ("aten::grid_sampler_2d", "regional"), ("aten::max_pool2d", "regional"), ("aten::conv_transpose2d", "conv"),
    ("aten::bmm", "gemm"), ("aten::einsum", "gemm"), ("aten::empty", "other"), ("aten::coalesce", "data_transform"),
])
def test_borderline_ops(name, category):
    v = TAX.classify("op", name)
    assert v.category == category and v.rule is not None and v.rule.reason


def test_kernels_memcpy_overrides_launcher_and_others_inherit():
    v = TAX.classify("kernel", "Memset (Device)", ("aten::conv2d",))
    assert v.category == "data_movement" and v.via == "kernel rule"
    v = TAX.classify("kernel", "void at::native::vectorized_elementwise_kernel<4, float>", ("aten::cat",))
    assert v.category == "data_movement" and v.via == "launching op"
    v = TAX.classify("kernel", "sm90_xmma_gemm_f32f32_tf32f32_f32_nn_n", ())
    assert v.category == "gemm"


# torch 2.14's name (torch/_inductor/output_code.py), and the pattern's other branch.
@pytest.mark.parametrize("name", ["## Call CompiledFxGraph fq2bkxbmzs4wujcjzmmwmnlfgwfbkdlvqutkcwcfamxw6mrhbpks ##",
                                  "## CompiledFxGraph f5cxl7hgz3xdzq5x3c7vlmxz ##"])
def test_compiled_graph_ranges_are_the_runtime_rules(name):
    """import-trace finds a compiled graph's range by COMPILED_GRAPH_RANGE (its note on unnamed CPU
    kernels) and the rules classify it: every name one matches, the other must too."""
    assert COMPILED_GRAPH_RANGE.fullmatch(name)
    v = TAX.classify("op", name)
    assert v.rule is not None and v.rule.id == "torch-compile-runtime", v


def test_python_rules():
    assert TAX.classify("python", "json.decoder:raw_decode").subcategory == "parsing_io"
    assert TAX.classify("python", "my.executor:filter_color").subcategory == "feature_query"
    assert TAX.classify("python", "numpy.core.fromnumeric:mean").subcategory == "arithmetic"
    assert TAX.classify("python", "builtin:list.append").subcategory == "program_control"
    assert TAX.classify("python", "python").category == "other"
    # torch's own Python in a with_stack trace is the framework's, not a feature query or the executor's control
    for name in ("torch.nn.modules.module:__getattr__", "torch.nn.modules.module:_call_impl",
                 "torch.utils._contextlib:decorate_context", "torch:is_tensor"):
        verdict = TAX.classify("python", name)
        assert (verdict.subcategory, verdict.rule.id) == ("other", "py-framework"), name
    assert TAX.classify("python", "torchlike.executor:filter_color").subcategory == "feature_query"   # not torch's


def test_each_question_is_matched_against_the_rules_once(monkeypatch):
    """first_match keeps its answer per question (name space, name, ancestors, children, source,
    scalar): import-trace asks a kernel's name for its communication flag and again per launching
    op, and a 5,000-character templated name costs milliseconds against the kernel rules. A kept
    answer is the one a fresh classifier gives, and asking again runs no rule."""
    from nscharacterize.taxonomy.rules import Rule

    questions = [("kernels", "ncclDevKernel_AllGather_RING_LL(ncclDevKernelArgsStorage<4096ul>)"),
                 ("kernels", "Cijk_Ailk_Bljk_HHS_BH_MT128x128x32_MI32x32x8x1"), ("kernels", "not_a_known_kernel"),
                 ("ops", "aten::addmm", ("aten::_sparse_addmm",)), ("ops", "aten::addmm"),
                 ("ops", "record_param_comms", (), (), "op")]
    tax = Taxonomy()
    first = [tax.first_match(*q) for q in questions]
    tried = []
    original = Rule.matches
    monkeypatch.setattr(Rule, "matches", lambda self, *a, **k: tried.append(self.id) or original(self, *a, **k))
    assert [tax.first_match(*q) for q in questions] == first
    assert tried == []
    fresh = Taxonomy()
    assert [fresh.first_match(*q) for q in questions] == first and tried   # a fresh one does match
    assert [r.id if r else None for r in first] == ["k-collective", "k-rocm-tensile-gemm", None, "inside-sparse-mm",
                                                    "gemm", "record-param-comms"]


def test_vectorised_equals_row_by_row():
    names = ["aten::addmm", "aten::cat", "aten::foo_unknown", "aten::relu"]
    rows = [{"workload": "w", "component": "c", "kind": "neural", "sample": i, "source": "op", "device": "cpu",
             "name": names[i % 4], "ancestors": "aten::_sparse_addmm" if i % 8 == 0 else "", "children": "",
             "calls": 1, "self_cpu_us": 1.0} for i in range(40)]
    ev = TAX.classify_events(events_frame(rows))
    for r in ev.itertuples():
        v = TAX.classify(r.source, r.name, tuple(filter(None, r.ancestors.split(">"))), ())
        assert (r.category, r.rule) == (v.category, v.rule.id if v.rule else "")


def test_coverage_of_installed_torch():
    cov = coverage(TAX)
    assert cov.total > 1000
    assert cov.fraction >= 0.95
    assert sum(cov.by_category.values()) == cov.covered


def test_user_rule_file_overrides_and_bad_files(tmp_path):
    extra = tmp_path / "mine.yaml"
    extra.write_text("namespace: ops\nrules:\n  - {match: 'aten::cat', category: other, reason: mine}\n")
    assert Taxonomy({"ops": [extra]}).classify("op", "aten::cat").category == "other"
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {match: 'aten::x', category: gemmm, reason: r}\n")
    with pytest.raises(RuleFileError, match="gemmm"):
        load_rules("ops", (bad,))
    bad.write_text("rules:\n  - {match: 'aten::(x', category: gemm, reason: r}\n")
    with pytest.raises(RuleFileError, match="bad regular expression"):
        load_rules("ops", (bad,))


def test_builtin_rules_cannot_backtrack_exponentially():
    """The loader skips this check for the built-in rule files (it doubles their load time)."""
    import yaml

    from nscharacterize.taxonomy.backtrack import nested_quantifier
    from nscharacterize.taxonomy.rules import NAMESPACES, RULES_DIR

    for ns in NAMESPACES:
        for raw in yaml.safe_load((RULES_DIR / f"{ns}.yaml").read_text())["rules"]:
            for key in ("match", "within", "calls"):
                assert not (raw.get(key) and nested_quantifier(raw[key])), (ns, raw.get("id"), key)
