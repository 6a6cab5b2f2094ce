"""The FLOP and byte model against hand-computed values, one or more per kind of op, and against
torch.profiler's own FLOP estimate on a real profile."""
from __future__ import annotations

import pytest
import torch

from nscharacterize.attribution import opcost
from nscharacterize.attribution.opcost import LIST_ITEMSIZE, Unsized, is_worker, op_cost
from nscharacterize.attribution.roofline import op_costs, torch_flops_agreement
from nscharacterize.profiler.events import events_frame, tagged
from nscharacterize.profiler.torch_backend import TorchSettings, capture
from nscharacterize.taxonomy.classifier import Taxonomy


def cost(name, shapes, dtypes, concrete="", children=""):
    return op_cost(name, shapes, dtypes, concrete, children)


# ---- matrix products ----------------------------------------------------------------------------
def test_mm_addmm_bmm():
    c = cost("aten::mm", "[[8, 16], [16, 32]]", "float,float")
    assert c.flops == 2 * 8 * 16 * 32
    assert c.bytes == 4 * (8 * 16 + 16 * 32 + 8 * 32)
    assert c.gemm == (1, 8, 32, 16)
    c = cost("aten::addmm", "[[32], [8, 16], [16, 32], [], []]", "float,float,float,Scalar,Scalar")
    assert c.flops == 2 * 8 * 16 * 32 and c.bytes == 4 * (32 + 8 * 16 + 16 * 32 + 8 * 32)
    c = cost("aten::bmm", "[[2, 3, 4], [2, 4, 5]]", "double,double")
    assert c.flops == 2 * 2 * 3 * 4 * 5 and c.bytes == 8 * 2 * (3 * 4 + 4 * 5 + 3 * 5)
    assert c.gemm == (2, 3, 5, 4)


def test_vector_products():
    c = cost("aten::mv", "[[10, 6], [6]]", "float,float")
    assert c.flops == 2 * 60 and c.bytes == 4 * (60 + 6 + 10) and c.gemm == (1, 10, 1, 6)
    c = cost("aten::dot", "[[7], [7]]", "float,float")
    assert c.flops == 14 and c.bytes == 4 * 15


def test_wrappers_are_transparent_and_workers_cover_their_callees():
    assert cost("aten::linear", "[[8, 16], [32, 16], [32]]", "float,float,float").flops == 0
    assert cost("aten::matmul", "[[8, 16], [16, 32]]", "float,float").bytes == 0
    assert not is_worker("aten::linear") and is_worker("aten::addmm") and is_worker("aten::embedding")
    assert cost("aten::view", "[[8, 16], []]", "float,ScalarList", "[null, [128]]") == cost("aten::t", "[[3, 4]]", "float")


# ---- convolutions -------------------------------------------------------------------------------
def test_conv2d_strided_padded():
    c = cost("aten::conv2d", "[[2, 3, 8, 8], [4, 3, 3, 3], [4], [], [], [], []]",
             "float,float,float,ScalarList,ScalarList,ScalarList,Scalar", "[null, null, null, [2, 2], [1, 1], [1, 1], null]")
    out = 2 * 4 * 4 * 4                          # N * C_out * 4 * 4 ((8 + 2 - 2 - 1) // 2 + 1 = 4)
    assert c.flops == 2 * out * 3 * 9
    assert c.bytes == 4 * (2 * 3 * 64 + 4 * 27 + 4 + out)


def test_grouped_and_transposed_convolution():
    # depthwise: weight [C, 1, k, k] -> each output reads one input channel
    c = cost("aten::convolution", "[[1, 8, 10, 10], [8, 1, 3, 3], [], [], [], [], [], [], []]",
             "float,float,,ScalarList,ScalarList,ScalarList,Scalar,ScalarList,Scalar",
             "[null, null, null, [1, 1], [0, 0], [1, 1], false, [0, 0], null]")
    assert c.flops == 2 * 8 * 8 * 8 * 1 * 9
    c = cost("aten::conv_transpose2d", "[[1, 4, 5, 5], [4, 2, 2, 2], [], [], [], [], [], []]",
             "float,float,,ScalarList,ScalarList,ScalarList,Scalar,ScalarList",
             "[null, null, null, [2, 2], [0, 0], [0, 0], null, [1, 1]]")
    assert c.flops == 2 * 1 * 4 * 25 * 2 * 4       # every input pixel scatters into C_out x k x k
    assert c.bytes == 4 * (100 + 32 + 1 * 2 * 10 * 10)


def test_conv_without_recorded_strides_is_unsized():
    with pytest.raises(Unsized):
        cost("aten::conv2d", "[[1, 3, 8, 8], [4, 3, 3, 3], [4], [], [], [], []]",
             "float,float,float,ScalarList,ScalarList,ScalarList,Scalar")


# ---- element-wise and reductions ----------------------------------------------------------------
def test_elementwise_broadcast_and_wrapped_scalars():
    c = cost("aten::add", "[[4, 1], [1, 5], []]", "float,float,Scalar")
    assert c.flops == 20 and c.bytes == 4 * (4 + 5 + 20)
    c = cost("aten::mul", "[[8, 16], []]", "float,long int")     # x * 2: a wrapped 0-dim number
    assert c.flops == 128 and c.bytes == 4 * 128 + 8 + 4 * 128
    c = cost("aten::gt", "[[8, 16], [8, 16]]", "float,float")
    assert c.bytes == 4 * 256 + 1 * 128                          # a comparison writes booleans
    c = cost("aten::addcmul_", "[[10], [10], [10], []]", "float,float,float,Scalar")
    assert c.flops == 20


def test_reductions():
    c = cost("aten::sum", "[[8, 16], [], [], []]", "float,ScalarList,Scalar,", "[null, [1], false, null]")
    assert c.flops == 128 and c.bytes == 4 * (128 + 8)
    c = cost("aten::sum", "[[8, 16], []]", "float,")             # a full reduction
    assert c.bytes == 4 * (128 + 1)
    c = cost("aten::max", "[[8, 16], [], []]", "float,Scalar,Scalar", "[null, 1, false]")
    assert c.bytes == 4 * 128 + 8 * (4 + 8)                      # values and int64 indices
    c = cost("aten::argmax", "[[8, 16], [], []]", "float,Scalar,Scalar", "[null, -1, false]")
    assert c.bytes == 4 * 128 + 8 * 8
    c = cost("aten::_softmax", "[[8, 16], [], []]", "float,Scalar,Scalar", "[null, -1, false]")
    assert c.flops == 5 * 128 and c.bytes == 2 * 4 * 128
    c = cost("aten::native_layer_norm", "[[8, 16], [], [16], [16], []]", "float,ScalarList,float,float,Scalar")
    assert c.flops == 5 * 128 and c.bytes == 4 * (2 * 128 + 32)


def test_losses():
    c = cost("aten::l1_loss", "[[4, 3], [4, 3], []]", "float,float,Scalar", "[null, null, 1]")
    assert c.flops == 36 and c.bytes == 4 * (12 + 12 + 1)
    c = cost("aten::mse_loss", "[[4, 3], [4, 3], []]", "float,float,Scalar", "[null, null, 0]")
    assert c.bytes == 4 * 36


def test_fills_and_random():
    assert cost("aten::zero_", "[[3, 4]]", "float") .bytes == 48
    assert cost("aten::zero_", "[[3, 4]]", "float").flops == 0
    assert cost("aten::normal_", "[[3, 4], [], [], []]", "float,Scalar,Scalar,").flops == 12


# ---- pooling, interpolation, RoI ----------------------------------------------------------------
def test_pooling():
    c = cost("aten::max_pool2d_with_indices", "[[1, 4, 4, 4], [], [], [], [], []]",
             "float,ScalarList,ScalarList,ScalarList,ScalarList,Scalar", "[null, [2, 2], [], [0, 0], [1, 1], false]")
    assert c.flops == 16 * 4 and c.bytes == 4 * 64 + 16 * (4 + 8)
    c = cost("aten::max_pool2d_with_indices", "[[1, 1, 5, 5], [], [], [], [], []]",
             "float,ScalarList,ScalarList,ScalarList,ScalarList,Scalar", "[null, [2, 2], [2, 2], [0, 0], [1, 1], true]")
    assert c.flops == 9 * 4                                       # ceil_mode: 3 x 3 windows
    c = cost("aten::_adaptive_avg_pool2d", "[[2, 3, 8, 8], []]", "float,ScalarList", "[null, [2, 2]]")
    assert c.bytes == 4 * (384 + 24) and c.flops == 384 + 24


def test_upsample_from_scales_and_sizes():
    c = cost("aten::upsample_bilinear2d", "[[1, 4, 4, 4], [], [], []]", "float,,Scalar,ScalarList",
             "[null, null, false, [2.0, 2.0]]")
    assert c.flops == 8 * 256 and c.bytes == 4 * (64 + 256)
    c = cost("aten::upsample_nearest2d", "[[1, 2, 3, 3], [], []]", "float,ScalarList,", "[null, [6, 6], null]")
    assert c.flops == 0 and c.bytes == 4 * (18 + 72)


def test_antialiased_resize():
    # 320x480 -> 256x384: both dims shrink by 1.25, so 3 taps per output in each pass
    c = cost("aten::_upsample_bilinear2d_aa", "[[1, 3, 320, 480], [], [], []]", "float,ScalarList,Scalar,",
             "[null, [256, 384], false, null]")
    assert c.flops == 2 * 3 * (320 * 384 * 3 + 256 * 384 * 3)
    assert c.bytes == 4 * (3 * 320 * 480 + 3 * 256 * 384)


def test_roi_align_and_nms():
    c = cost("torchvision::roi_align", "[[1, 256, 50, 50], [10, 5], [], [], [], [], []]",
             "float,float,Scalar,Scalar,Scalar,Scalar,Scalar", "[null, null, 0.25, 7, 7, 2, false]")
    bins = 10 * 256 * 49
    samples = bins * 4
    assert c.flops == 8 * samples + bins
    assert c.bytes == min(256 * 2500 * 4, samples * 16) + 10 * 5 * 4 + bins * 4
    with pytest.raises(Unsized, match="adaptive"):
        cost("torchvision::roi_align", "[[1, 8, 5, 5], [2, 5], [], [], [], [], []]",
             "float,float,Scalar,Scalar,Scalar,Scalar,Scalar", "[null, null, 1.0, 7, 7, 0, false]")
    with pytest.raises(Unsized, match="depends on the data"):
        cost("torchvision::nms", "[[100, 4], [100], []]", "float,float,Scalar")


# ---- embedding lookups and gathers -------------------------------------------------------------
def test_embedding_and_bag():
    c = cost("aten::embedding", "[[100, 8], [1, 3], [], [], []]", "float,long int,Scalar,Scalar,Scalar")
    assert c.flops == 0 and c.bytes == 3 * 8 + 2 * 3 * 8 * 4
    c = cost("aten::_embedding_bag", "[[100, 8], [4], [2], [], [], [], [], [], []]",
             "float,long int,long int,Scalar,Scalar,Scalar,,Scalar,Scalar",
             "[null, null, null, false, 1, false, null, false, -1]")
    assert c.flops == 4 * 8 and c.bytes == 32 + 16 + 4 * 8 * 4 + 2 * 8 * 4


def test_gathers():
    c = cost("aten::index_select", "[[100, 8], [], [3]]", "float,Scalar,long int", "[null, 0, null]")
    assert c.bytes == 3 * 8 + 2 * 3 * 8 * 4
    c = cost("aten::gather", "[[10, 5], [], [10, 2], []]", "float,Scalar,long int,Scalar")
    assert c.bytes == 20 * 8 + 2 * 20 * 4
    c = cost("aten::index", "[[10, 6, 5], [[], [4]]]", "float,TensorList")   # x[:, idx]
    assert c.bytes == 4 * 8 + 2 * (10 * 4 * 5) * 4
    with pytest.raises(Unsized, match="boolean-mask"):
        cost("aten::index", "[[10, 6], [[10, 6]]]", "float,TensorList", children="aten::nonzero")
    with pytest.raises(Unsized):
        cost("aten::nonzero", "[[10]]", "bool")


# ---- copies, concatenation ----------------------------------------------------------------------
def test_copies_and_concatenation():
    c = cost("aten::copy_", "[[8, 16], [8, 16], []]", "double,float,Scalar")     # float -> double
    assert c.bytes == 128 * 4 + 128 * 8 and c.flops == 0
    assert cost("aten::_local_scalar_dense", "[[]]", "float").bytes == 4
    c = cost("aten::cat", "[[[8, 16], [8, 16]], []]", "TensorList,Scalar")
    assert c.bytes == 2 * 256 * LIST_ITEMSIZE
    with pytest.raises(Unsized, match="without shapes"):
        cost("aten::cat", "[[], []]", "TensorList,Scalar")                      # runs of older versions
    c = cost("aten::constant_pad_nd", "[[2, 3], [], []]", "float,ScalarList,Scalar", "[null, [1, 1], 0.0]")
    assert c.bytes == 4 * (6 + 10)


def test_sparse_products_are_unsized_not_sized_as_dense():
    with pytest.raises(Unsized, match="sparse"):        # torch.mm(sparse, dense): shapes look dense
        cost("aten::mm", "[[100, 100], [100, 8]]", "float,float", children="aten::_sparse_mm")
    with pytest.raises(Unsized, match="sparse"):
        cost("aten::_sparse_addmm", "[[100, 8], [100, 100], [100, 8], [], []]", "float,float,float,Scalar,Scalar")
    assert is_worker("aten::_sparse_mm")                # what runs inside it is covered, not counted


def test_unknown_ops_and_missing_dtypes_are_unsized():
    with pytest.raises(Unsized, match="no cost model"):
        cost("aten::linalg_svd", "[[4, 4]]", "float")
    with pytest.raises(Unsized, match="dtype"):
        cost("aten::add", "[[4], [4], []]", "")


# ---- against torch.profiler on a real profile -------------------------------------------------
def _profile(fn, x):
    cap = capture(fn, x, "cpu", TorchSettings())
    rows = tagged(cap.rows, workload="w", component="c", kind="neural", sample=0)
    return Taxonomy().classify_events(events_frame([rows]))


def test_adaptive_max_pooling_is_sized_on_a_real_profile():
    """adaptive_max_pool2d/3d are leaf ops under torch.profiler (1d wraps 2d): each call is sized
    once, with its indices written. A pattern row for the wrappers used to shadow them."""
    def fn(x):
        return (torch.nn.functional.adaptive_max_pool1d(x[:, :, 0, 0, :], 2),
                torch.nn.functional.adaptive_max_pool2d(x[:, :, 0], (2, 3)),
                torch.nn.functional.adaptive_max_pool3d(x, (1, 2, 2)))
    oc = op_costs(_profile(fn, torch.randn(2, 3, 4, 6, 6)))
    sized = oc[oc["status"] == "sized"].set_index("name")
    assert {"aten::adaptive_max_pool2d", "aten::adaptive_max_pool3d"} <= set(sized.index)
    by_op = sized.groupby(level=0)["flops_call"].sum()
    # input read + output written: [2, 3, 6, 6] -> (2, 3), and the 1d call as 2d: [2, 3, 1, 6] -> (1, 2)
    assert by_op["aten::adaptive_max_pool2d"] == (216 + 36) + (36 + 12)
    assert by_op["aten::adaptive_max_pool3d"] == 864 + 24                 # [2, 3, 4, 6, 6] -> (1, 2, 2)
    assert by_op["aten::adaptive_max_pool1d"] == 0                        # the wrapper costs nothing itself


def test_model_agrees_with_torch_flops_on_a_real_profile():
    lin, conv = torch.nn.Linear(16, 32), torch.nn.Conv2d(3, 6, 3, stride=2, padding=1)

    def fn(x):
        with torch.no_grad():
            lin(x)
            x @ x.t()
            torch.bmm(x.view(2, 4, 16), x.view(2, 16, 4))
            conv(torch.ones(2, 3, 9, 9))
            return x * 3 + x, x[:, :1] * x                 # mul of a broadcast first operand
    ev = _profile(fn, torch.randn(8, 16))
    agree = torch_flops_agreement(ev).set_index("name")
    products = ["aten::addmm", "aten::mm", "aten::bmm", "aten::conv2d"]
    assert set(products) <= set(agree.index)
    assert (agree.loc[products, "ratio"] == 1.0).all(), agree
    assert agree.loc["aten::add", "ratio"] == 1.0
    # torch counts the first operand's 8 elements of x[:, :1] * x; the model the 8 x 16 outputs
    assert agree.loc["aten::mul", "model_flops"] == 128 + 128
    assert agree.loc["aten::mul", "torch_flops"] == 128 + 8


def test_each_unit_of_work_is_counted_once():
    """linear -> addmm (-> copy_ of the bias): the product is counted once, at addmm."""
    lin = torch.nn.Linear(16, 32)

    def fn(x):
        with torch.no_grad():
            return lin(x)
    ev = _profile(fn, torch.randn(8, 16))
    oc = op_costs(ev)
    sized = oc[oc["status"] == "sized"]
    assert sized["flops_call"].sum() == 2 * 8 * 16 * 32
    assert set(oc.loc[oc["name"] == "aten::copy_", "status"]) <= {"covered"}


def test_concrete_inputs_from_a_chrome_trace_size_the_same_op():
    from nscharacterize.profiler.events import concrete_from_trace
    concrete = concrete_from_trace("aten::conv2d", ["", "", "", "[2, 2]", "[1, 1]", "[1, 1]", "1"])
    assert concrete == '[null, null, null, [2, 2], [1, 1], [1, 1], null]'     # a plain number is dropped
    c = cost("aten::conv2d", "[[1, 3, 8, 8], [4, 3, 3, 3], [4], [], [], [], []]",
             "float,float,float,ScalarList,ScalarList,ScalarList,Scalar", concrete)
    assert c.flops == 2 * 4 * 16 * 27
    assert concrete_from_trace("aten::max", ["", "-2", "False"]) == "[null, -2, false]"


def test_no_registered_op_matches_two_kinds_of_entry():
    """Workers are exact names and patterns only name families of transparent ops, so the table
    has no order: checked against every op this torch registers."""
    names = {n.split(".")[0] for n in torch._C._dispatch_get_all_op_names()}
    assert len(names) > 1000
    both = {n: opcost.matches(n) for n in names
            if len({"worker" if m == "worker" else "transparent" for m in opcost.matches(n)}) > 1}
    assert not both
    assert opcost.is_worker("aten::adaptive_max_pool2d") and opcost.is_worker("aten::adaptive_max_pool3d")
    assert not opcost.is_worker("aten::adaptive_avg_pool2d") and opcost.is_worker("aten::_adaptive_avg_pool2d")
