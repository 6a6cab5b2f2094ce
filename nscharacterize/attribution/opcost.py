"""FLOPs and bytes of one op from its recorded shapes, dtypes and sizing arguments.

One table (``COSTS``) maps op names to cost functions, fvcore-style. Each function sees the op's
arguments by position (shape, dtype name and concrete value per argument) and returns what the op
computes and what it moves:

* ``flops``: arithmetic operations; a multiply-add counts as 2. Matrix products and convolutions
  count the product only (2*m*n*k; 2*N*OC*out*(IC/g)*kernel), as torch.profiler does, so the two
  estimates agree exactly; a bias add is not counted. Element-wise ops count a fixed number per
  output element (``_EW`` below: 1 for arithmetic and comparisons, more for softmax and norms).
* ``bytes``: compulsory traffic, each input read once and each output written once (the roofline
  convention: caches are assumed to hold what a single op reuses).
* ``gemm``: (batch, m, n, k) of matrix products, for the tall-and-skinny test.

Three kinds of entry:

* *transparent* ops (views, allocation, metadata, and wrappers such as ``linear``, ``matmul``,
  ``to``, ``clone``, ``zeros`` whose work is done by the ops they call) cost nothing themselves;
  the ops they call are counted.
* *worker* ops have a cost function. An op nested inside a worker (the ``copy_`` of a bias inside
  ``addmm``, ``index_select`` inside ``embedding``) is covered by it and not counted again, so
  every unit of work is counted once, at the outermost op that does it.
* everything else, and a worker whose arguments cannot size it (a data-dependent output such as
  ``nonzero``, a tensor list recorded without shapes), is *unsized*: counted and listed by the
  roofline, never guessed.
"""
from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from nscharacterize.profiler.events import DTYPE_BYTES

_NON_TENSOR = {"", "scalar", "scalarlist", "tensorlist", "genericlist", "string", "none", "device", "layout",
               "scalartype", "memoryformat"}


@dataclass(frozen=True)
class Arg:
    """One argument as recorded: shape (nested for tensor lists), dtype name, concrete value."""
    shape: Any   # a tuple (nested for tensor lists); None where not recorded (never for a tensor)
    dtype: str
    value: object = None

    @property
    def is_tensor(self) -> bool:
        return self.dtype.lower() not in _NON_TENSOR and self.shape is not None and _flat(self.shape)

    @property
    def numel(self) -> int:
        return math.prod(self.shape) if self.shape else 1

    @property
    def itemsize(self) -> int | None:
        return DTYPE_BYTES.get(self.dtype.lower())

    @property
    def nbytes(self) -> float:
        size = self.itemsize
        if size is None:
            raise Unsized(f"unknown dtype {self.dtype!r}")
        return float(self.numel * size)


@dataclass(frozen=True)
class Cost:
    flops: float
    bytes: float
    gemm: tuple[int, int, int, int] | None = None   # (batch, m, n, k) of a matrix product
    dtype: str = ""                                  # dtype the FLOPs run in (for the compute ceiling)


class Unsized(Exception):
    """The op's recorded arguments do not determine its work; the message says why."""


def _flat(shape) -> bool:
    return all(isinstance(d, int) for d in shape)


# ---- argument access ----------------------------------------------------------------------------
def _tensor(args: list[Arg], i: int) -> Arg:
    if i >= len(args) or not args[i].is_tensor:
        raise Unsized(f"argument {i} is not a recorded tensor")
    return args[i]


def _opt_tensor(args: list[Arg], i: int) -> Arg | None:
    return args[i] if i < len(args) and args[i].is_tensor else None


def _value(args: list[Arg], i: int, default=None):
    return args[i].value if i < len(args) and args[i].value is not None else default


def _ints(args: list[Arg], i: int, n: int, default=None) -> list[int]:
    v = _value(args, i, default)
    if v is None:
        raise Unsized(f"argument {i} (a size list) was not recorded")
    if isinstance(v, int):
        v = [v]
    v = list(v)
    if not v and default is not None:
        v = list(default)
    if len(v) == 1 and n > 1:
        v = v * n
    if len(v) != n or not all(isinstance(x, (int, float)) for x in v):
        raise Unsized(f"argument {i} has {v!r}, expected {n} numbers")
    return v


def _tensors(args: list[Arg]) -> list[Arg]:
    return [a for a in args if a.is_tensor]


def _list_arg(args: list[Arg], i: int) -> list[Arg]:
    """The tensors of a tensor-list argument, from its nested shapes."""
    if i >= len(args) or args[i].shape is None:
        raise Unsized("tensor list not recorded")
    shapes = args[i].shape
    if not shapes or _flat(shapes):
        raise Unsized("the profiler recorded this tensor list without shapes (a list of optional "
                      "tensors, or a run from an older version)")
    # The list's element dtype is not recorded: every tensor of a cat/stack has the output's dtype.
    return [Arg(tuple(s), "", None) for s in shapes if isinstance(s, (list, tuple))]


def broadcast(*shapes: tuple) -> tuple:
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        sizes = {s[len(s) - ndim + i] for s in shapes if len(s) - ndim + i >= 0} - {1}
        if len(sizes) > 1:
            raise Unsized(f"shapes {shapes} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _itemsize(arg: Arg, fallback: Arg | None = None) -> int:
    size = arg.itemsize or (fallback.itemsize if fallback else None)
    if size is None:
        raise Unsized(f"unknown dtype {arg.dtype!r}")
    return size


# ---- matrix products ----------------------------------------------------------------------------
def _gemm(batch: int, m: int, n: int, k: int, read: float, out_item: int, dtype: str) -> Cost:
    return Cost(2.0 * batch * m * n * k, read + batch * m * n * out_item, (batch, m, n, k), dtype)


def mm(args):
    a, b = _tensor(args, 0), _tensor(args, 1)
    (m, k), (_, n) = a.shape, b.shape
    return _gemm(1, m, n, k, a.nbytes + b.nbytes, _itemsize(a), a.dtype)


def addmm(args):
    c, a, b = _tensor(args, 0), _tensor(args, 1), _tensor(args, 2)
    (m, k), (_, n) = a.shape, b.shape
    return _gemm(1, m, n, k, c.nbytes + a.nbytes + b.nbytes, _itemsize(a), a.dtype)


def bmm(args):
    a, b = _tensor(args, 0), _tensor(args, 1)
    (bt, m, k), (_, _, n) = a.shape, b.shape
    return _gemm(bt, m, n, k, a.nbytes + b.nbytes, _itemsize(a), a.dtype)


def baddbmm(args):
    c, a, b = _tensor(args, 0), _tensor(args, 1), _tensor(args, 2)
    (bt, m, k), (_, _, n) = a.shape, b.shape
    return _gemm(bt, m, n, k, c.nbytes + a.nbytes + b.nbytes, _itemsize(a), a.dtype)


def addbmm(args):
    c, a, b = _tensor(args, 0), _tensor(args, 1), _tensor(args, 2)
    (bt, m, k), (_, _, n) = a.shape, b.shape
    out = m * n * _itemsize(a)
    return Cost(2.0 * bt * m * n * k, c.nbytes + a.nbytes + b.nbytes + out, (bt, m, n, k), a.dtype)


def mv(args, offset: int = 0):
    a, x = _tensor(args, offset), _tensor(args, offset + 1)
    m, k = a.shape
    extra = args[0].nbytes if offset else 0.0
    return _gemm(1, m, 1, k, extra + a.nbytes + x.nbytes, _itemsize(a), a.dtype)


def dot(args):
    a, b = _tensor(args, 0), _tensor(args, 1)
    return Cost(2.0 * a.numel, a.nbytes + b.nbytes + _itemsize(a), (1, 1, 1, a.numel), a.dtype)


def outer(args, offset: int = 0):
    a, b = _tensor(args, offset), _tensor(args, offset + 1)
    extra = args[0].nbytes if offset else 0.0
    return Cost(float(a.numel * b.numel), extra + a.nbytes + b.nbytes + a.numel * b.numel * _itemsize(a),
                (1, a.numel, b.numel, 1), a.dtype)


def matmul(args):
    a, b = _tensor(args, 0), _tensor(args, 1)
    sa, sb = list(a.shape), list(b.shape)
    if len(sa) == 1 and len(sb) == 1:
        return dot(args)
    if len(sa) == 1:
        sa = [1] + sa
    if len(sb) == 1:
        sb = sb + [1]
    m, k, n = sa[-2], sa[-1], sb[-1]
    batch = math.prod(broadcast(tuple(sa[:-2]), tuple(sb[:-2])))
    return _gemm(batch, m, n, k, a.nbytes + b.nbytes, _itemsize(a), a.dtype)


def linear(args):
    x, w, bias = _tensor(args, 0), _tensor(args, 1), _opt_tensor(args, 2)
    k = x.shape[-1]
    n = w.shape[0] if len(w.shape) == 2 else 1
    m = math.prod(x.shape[:-1])
    read = x.nbytes + w.nbytes + (bias.nbytes if bias else 0.0)
    return _gemm(1, m, n, k, read, _itemsize(x), x.dtype)


# ---- convolutions -------------------------------------------------------------------------------
def _conv(x: Arg, w: Arg, bias: Arg | None, stride, padding, dilation, transposed: bool, out_pad) -> Cost:
    n, c_in, *spatial = x.shape
    nd = len(spatial)
    stride, padding, dilation = (_fill(v, nd) for v in (stride, padding, dilation))
    kernel = list(w.shape[2:])
    if transposed:   # weight: [C_in, C_out/g, k...]
        groups = c_in // w.shape[0] if w.shape[0] else 1
        c_out = w.shape[1] * groups
        out_pad = _fill(out_pad or [0] * nd, nd)
        out = [(i - 1) * s - 2 * p + d * (k - 1) + op + 1
               for i, s, p, d, k, op in zip(spatial, stride, padding, dilation, kernel, out_pad)]
        flops = 2.0 * n * c_in * math.prod(spatial) * w.shape[1] * math.prod(kernel)
    else:            # weight: [C_out, C_in/g, k...]
        c_out = w.shape[0]
        out = [(i + 2 * p - d * (k - 1) - 1) // s + 1
               for i, s, p, d, k in zip(spatial, stride, padding, dilation, kernel)]
        flops = 2.0 * n * c_out * math.prod(out) * w.shape[1] * math.prod(kernel)
    if any(o <= 0 for o in out):
        raise Unsized(f"output size {out} from input {spatial}")
    out_bytes = n * c_out * math.prod(out) * _itemsize(x)
    read = x.nbytes + w.nbytes + (bias.nbytes if bias else 0.0)
    return Cost(flops, read + out_bytes, None, x.dtype)


def _fill(v, nd):
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    if len(v) == 1:
        v = v * nd
    if len(v) != nd or not all(isinstance(x, int) for x in v):
        raise Unsized(f"{v!r} is not {nd} integers")
    return v


def conv_nd(args):
    """conv1d/2d/3d(input, weight, bias, stride, padding, dilation, groups)."""
    padding = _value(args, 4)
    if not isinstance(padding, (list, tuple)):
        raise Unsized("padding was not recorded as sizes (padding='same'/'valid' or an old run)")
    return _conv(_tensor(args, 0), _tensor(args, 1), _opt_tensor(args, 2), _value(args, 3, [1]), padding,
                 _value(args, 5, [1]), False, None)


def convolution(args):
    """convolution/_convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)."""
    for i in (3, 4, 5):
        if not isinstance(_value(args, i), (list, tuple)):
            raise Unsized("stride/padding/dilation were not recorded (an old run)")
    return _conv(_tensor(args, 0), _tensor(args, 1), _opt_tensor(args, 2), _value(args, 3), _value(args, 4),
                 _value(args, 5), bool(_value(args, 6, False)), _value(args, 7))


def conv_transpose(args):
    """conv_transpose1d/2d/3d(input, weight, bias, stride, padding, output_padding, groups, dilation)."""
    for i in (3, 4):
        if not isinstance(_value(args, i), (list, tuple)):
            raise Unsized("stride/padding were not recorded (an old run)")
    return _conv(_tensor(args, 0), _tensor(args, 1), _opt_tensor(args, 2), _value(args, 3), _value(args, 4),
                 _value(args, 7, [1]), True, _value(args, 5, [0]))


# ---- element-wise and reductions ------------------------------------------------------------------
def elementwise(per_element: float, boolean_output: bool = False):
    """Output = broadcast of the tensor arguments; reads every tensor, writes the output (in the
    widest input dtype, or one byte per element for comparisons)."""
    def cost(args):
        ts = _tensors(args)
        if not ts:
            raise Unsized("no tensor argument recorded")
        out_shape = broadcast(*(t.shape for t in ts))
        out_numel = math.prod(out_shape)
        read = sum(t.nbytes for t in ts)
        # A Python number shows up as a 0-dim tensor ("wrapped number"): it does not promote.
        dimensioned = [t for t in ts if t.shape] or ts
        widest = max(dimensioned, key=lambda t: _itemsize(t))
        out_item = 1 if boolean_output else _itemsize(widest)
        return Cost(per_element * out_numel, read + out_numel * out_item, None, widest.dtype)
    return cost


def unary_write(per_element: float):
    """A fill or random fill of its first argument: writes it, reads nothing."""
    def cost(args):
        t = _tensor(args, 0)
        return Cost(per_element * t.numel, t.nbytes, None, t.dtype)
    return cost


def dropout(args):
    x = _tensor(args, 0)
    if _value(args, 2) is False:     # dropout(input, p, train): in eval it returns its input
        return Cost(0.0, 0.0)
    return Cost(2.0 * x.numel, 2 * x.nbytes, None, x.dtype)


def _reduced_numel(x: Arg, dims, keepdim) -> int:
    if dims is None or dims == [] or dims == ():
        return 1
    dims = [dims] if isinstance(dims, int) else list(dims)
    nd = len(x.shape)
    kept = [s for i, s in enumerate(x.shape) if i not in {d % nd for d in dims}] if nd else []
    return math.prod(kept) if kept else 1


def reduction(per_element: float, index_output: bool = False):
    """sum/mean/amax(self, dim, keepdim); max/min(self, dim, keepdim) also return int64 indices."""
    def cost(args):
        x = _tensor(args, 0)
        if _opt_tensor(args, 1) is not None:     # max(self, other): element-wise
            return elementwise(1.0)(args)
        dims = _value(args, 1)
        if len(args) > 1 and dims is None and args[1].dtype.lower() in ("scalar", "scalarlist"):
            raise Unsized("the reduced dims were not recorded")
        out = _reduced_numel(x, dims, _value(args, 2))
        item = _itemsize(x) + (8 if index_output and dims is not None else 0)
        return Cost(per_element * x.numel, x.nbytes + out * item, None, x.dtype)
    return cost


def arg_reduction(args):
    x = _tensor(args, 0)
    out = _reduced_numel(x, _value(args, 1), _value(args, 2))
    return Cost(float(x.numel), x.nbytes + out * 8, None, x.dtype)


def same_shape(per_element: float):
    """softmax, cumsum, norms: read the input once, write an output of the same shape."""
    def cost(args):
        x = _tensor(args, 0)
        extra = sum(t.nbytes for t in _tensors(args)[1:])   # weight, bias, running stats
        return Cost(per_element * x.numel, 2 * x.nbytes + extra, None, x.dtype)
    return cost


# ---- pooling, interpolation, RoI ---------------------------------------------------------------
def pool(nd: int, with_indices: bool, avg: bool = False):
    """max_pool/avg_pool Nd(input, kernel, stride, padding, [dilation,] ceil_mode)."""
    def cost(args):
        x = _tensor(args, 0)
        spatial = list(x.shape[-nd:])
        kernel = _ints(args, 1, nd)
        stride = _ints(args, 2, nd, default=kernel)
        padding = _ints(args, 3, nd, default=[0] * nd)
        dilation = [1] * nd if avg else _ints(args, 4, nd, default=[1] * nd)
        ceil = bool(_value(args, 4 if avg else 5, False))
        out = []
        for i, k, s, p, d in zip(spatial, kernel, stride, padding, dilation):
            span = i + 2 * p - d * (k - 1) - 1
            o = (-(-span // s) if ceil else span // s) + 1
            if ceil and (o - 1) * s >= i + p:
                o -= 1
            out.append(o)
        lead = math.prod(x.shape[:-nd])
        out_numel = lead * math.prod(out)
        item = _itemsize(x) + (8 if with_indices else 0)
        return Cost(float(out_numel * math.prod(kernel)), x.nbytes + out_numel * item, None, x.dtype)
    return cost


def adaptive_pool(with_indices: bool):
    def cost(args):
        x = _tensor(args, 0)
        out_size = _value(args, 1)
        if not isinstance(out_size, (list, tuple)):
            raise Unsized("output size not recorded")
        nd = len(out_size)
        out_size = [o if o is not None else i for o, i in zip(out_size, x.shape[-nd:])]
        out_numel = math.prod(x.shape[:-nd]) * math.prod(out_size)
        item = _itemsize(x) + (8 if with_indices else 0)
        return Cost(float(x.numel + out_numel), x.nbytes + out_numel * item, None, x.dtype)
    return cost


def upsample(per_output: float):
    """upsample_*(input, output_size, [align_corners,] scales...): output size from the sizes or scales."""
    def cost(args):
        x = _tensor(args, 0)
        nd = len(x.shape) - 2
        size = _value(args, 1)
        if not (isinstance(size, (list, tuple)) and len(size) == nd):
            scales = next((v for v in (a.value for a in args[2:]) if isinstance(v, (list, tuple)) and len(v) == nd
                           and all(isinstance(s, (int, float)) for s in v)), None)
            if scales is None:
                raise Unsized("output size and scales were not recorded")
            size = [int(math.floor(i * s)) for i, s in zip(x.shape[2:], scales)]
        out_numel = x.shape[0] * x.shape[1] * math.prod(size)
        return Cost(per_output * out_numel, x.nbytes + out_numel * _itemsize(x), None, x.dtype)
    return cost


def upsample_aa(args):
    """_upsample_bilinear2d_aa / _bicubic2d_aa(input, output_size, align_corners, scales):
    antialiased resize, applied as two separable passes; a pass over a dimension shrunk by s
    reads ceil(2 * max(s, 1)) taps per output (a multiply-add each)."""
    x = _tensor(args, 0)
    size = _value(args, 1)
    if not (isinstance(size, (list, tuple)) and len(size) == 2):
        raise Unsized("output size was not recorded")
    (h, w), (oh, ow) = x.shape[-2:], size
    taps_h, taps_w = (math.ceil(2 * max(i / o, 1.0)) for i, o in ((h, oh), (w, ow)))
    planes = math.prod(x.shape[:-2])
    flops = 2.0 * planes * (h * ow * taps_w + oh * ow * taps_h)
    return Cost(flops, x.nbytes + planes * oh * ow * _itemsize(x), None, x.dtype)


def grid_sampler(args):
    x, grid = _tensor(args, 0), _tensor(args, 1)
    nd = len(x.shape) - 2
    out_numel = x.shape[0] * x.shape[1] * math.prod(grid.shape[1:-1])
    return Cost(4.0 * 2 ** nd * out_numel, x.nbytes + grid.nbytes + out_numel * _itemsize(x), None, x.dtype)


def roi_align(args):
    """torchvision::roi_align(input, rois, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned).

    Each output bin averages sampling_ratio^2 bilinear samples of 4 pixels (8 FLOPs per sample
    and channel); bytes read are bounded by the feature map or by the samples, whichever is less.
    """
    x, rois = _tensor(args, 0), _tensor(args, 1)
    ph, pw, ratio = _value(args, 3), _value(args, 4), _value(args, 5)
    if not all(isinstance(v, int) for v in (ph, pw, ratio)):
        raise Unsized("pooled size or sampling ratio not recorded")
    if ratio <= 0:
        raise Unsized("adaptive sampling ratio: samples per bin depend on each box's size")
    bins = rois.shape[0] * x.shape[1] * ph * pw
    samples = bins * ratio * ratio
    read = min(x.nbytes, samples * 4 * _itemsize(x))
    return Cost(8.0 * samples + bins, read + rois.nbytes + bins * _itemsize(x), None, x.dtype)


def roi_pool(args):
    ph, pw = _value(args, 3), _value(args, 4)
    if not all(isinstance(v, int) for v in (ph, pw)):
        raise Unsized("pooled size not recorded")
    raise Unsized("RoI max pooling reads each box's own region: work depends on the boxes")


# ---- embedding lookups and gathers -----------------------------------------------------------
def embedding(args):
    """embedding(weight [V, D], indices): reads the indices and one row per index, writes them."""
    w, idx = _tensor(args, 0), _tensor(args, 1)
    row = math.prod(w.shape[1:]) * _itemsize(w)
    return Cost(0.0, idx.nbytes + 2.0 * idx.numel * row, None, w.dtype)


def embedding_bag(args):
    """embedding_bag(weight, indices, offsets, scale_grad, mode, sparse, per_sample_weights,
    include_last_offset, padding_idx): gathers one row per index and reduces it into its bag."""
    w, idx, offsets = _tensor(args, 0), _tensor(args, 1), _opt_tensor(args, 2)
    psw = _opt_tensor(args, 6)
    d = math.prod(w.shape[1:])
    if len(idx.shape) == 2:
        bags = idx.shape[0]
    elif offsets is not None:
        bags = offsets.numel - (1 if _value(args, 7) is True else 0)
    else:
        raise Unsized("1-D indices without offsets")
    flops = idx.numel * d * (2.0 if psw else 1.0)
    read = idx.nbytes + (offsets.nbytes if offsets else 0.0) + (psw.nbytes if psw else 0.0) \
        + idx.numel * d * _itemsize(w)
    return Cost(flops, read + bags * d * _itemsize(w), None, w.dtype)


def index_select(args):
    """index_select(self, dim, index): reads the selected slices and the index, writes them."""
    x, idx = _tensor(args, 0), _tensor(args, 2)
    dim = _value(args, 1)
    if not isinstance(dim, int):
        raise Unsized("dim not recorded")
    nd = len(x.shape)
    out = x.numel // x.shape[dim % nd] * idx.numel if nd else idx.numel
    return Cost(0.0, idx.nbytes + 2.0 * out * _itemsize(x), None, x.dtype)


def gather(args):
    """gather(self, dim, index): output has the index's shape."""
    x, idx = _tensor(args, 0), _tensor(args, 2)
    return Cost(0.0, idx.nbytes + 2.0 * idx.numel * _itemsize(x), None, x.dtype)


def index(args):
    """index(self, indices): integer index tensors; dims indexed by None are kept whole. (A
    boolean mask calls nonzero, and its output size depends on the data: see op_cost.)"""
    x = _tensor(args, 0)
    idx = _list_arg(args, 1)
    used = [a for a in idx if a.shape]
    if not used:
        raise Unsized("index list without shapes")
    lead = broadcast(*(a.shape for a in used))
    kept = [s for i, s in enumerate(x.shape) if i >= len(idx) or not idx[i].shape]
    out = math.prod(lead) * math.prod(kept)
    idx_bytes = sum(a.numel for a in used) * 8
    return Cost(0.0, idx_bytes + 2.0 * out * _itemsize(x), None, x.dtype)


def index_put(args):
    """index_put_(self, indices, values, accumulate): reads values and indices, writes the positions."""
    x = _tensor(args, 0)
    idx = _list_arg(args, 1)
    values = _tensor(args, 2)
    lead = broadcast(*(a.shape for a in idx if a.shape)) if any(a.shape for a in idx) else ()
    n = math.prod(lead) * math.prod(x.shape[len(idx):])
    acc = 2.0 if _value(args, 3) is True else 1.0
    return Cost(n if acc > 1 else 0.0, values.nbytes + sum(a.numel for a in idx) * 8 + acc * n * _itemsize(x),
                None, x.dtype)


def scatter(accumulate: bool):
    """scatter_/scatter_add_(self, dim, index, src): writes one element per index."""
    def cost(args):
        x, idx = _tensor(args, 0), _tensor(args, 2)
        src = _opt_tensor(args, 3)
        n = idx.numel
        read = idx.nbytes + (n * _itemsize(src) if src else 0.0) + (n * _itemsize(x) if accumulate else 0.0)
        return Cost(float(n) if accumulate else 0.0, read + n * _itemsize(x), None, x.dtype)
    return cost


def masked_fill(args):
    x, mask = _tensor(args, 0), _tensor(args, 1)
    return Cost(0.0, x.nbytes + mask.numel * _itemsize(mask) + x.nbytes, None, x.dtype)


# ---- copies, concatenation, fills ------------------------------------------------------------
def copy_(args):
    """copy_(dst, src): reads src (broadcast to dst), writes dst; dtype conversions included."""
    dst, src = _tensor(args, 0), _tensor(args, 1)
    return Cost(0.0, src.nbytes + dst.nbytes, None, dst.dtype)


def local_scalar(args):
    x = _tensor(args, 0)
    return Cost(0.0, float(_itemsize(x)), None, x.dtype)


def cat(args):
    """cat/stack(tensors, dim): reads every input, writes their concatenation."""
    parts = _list_arg(args, 0)
    item = _cat_itemsize(args)
    total = sum(p.numel for p in parts)
    return Cost(0.0, 2.0 * total * item, None, "")


# torch.profiler records a tensor list's shapes but not its element dtype ("TensorList"), so
# cat/stack bytes assume 4-byte elements (float32, int32): exact for the float32 workloads here,
# half the true traffic for an int64 or float64 list. Documented in docs/guide/roofline.md.
LIST_ITEMSIZE = 4


def _cat_itemsize(args: list[Arg]) -> int:
    return LIST_ITEMSIZE


def repeat(args):
    x = _tensor(args, 0)
    reps = _value(args, 1)
    if not isinstance(reps, (list, tuple)):
        raise Unsized("repeats not recorded")
    out = x.numel * math.prod(reps)
    return Cost(0.0, x.nbytes + out * _itemsize(x), None, x.dtype)


def pad(args):
    x = _tensor(args, 0)
    p = _value(args, 1)
    if not isinstance(p, (list, tuple)) or len(p) % 2:
        raise Unsized("pad sizes not recorded")
    shape = list(x.shape)
    for i in range(len(p) // 2):
        shape[-1 - i] += p[2 * i] + p[2 * i + 1]
    return Cost(0.0, x.nbytes + math.prod(shape) * _itemsize(x), None, x.dtype)


def reorder(args):
    """flip, roll: every element is read once and written once elsewhere."""
    x = _tensor(args, 0)
    return Cost(0.0, 2 * x.nbytes, None, x.dtype)


def sort(args):
    """sort(self, [stable,] dim, descending): n log2 n comparisons per slice; values and int64 indices."""
    x = _tensor(args, 0)
    dim = next((a.value for a in args[1:] if isinstance(a.value, int) and not isinstance(a.value, bool)), -1)
    n = x.shape[dim % len(x.shape)] if x.shape else 1
    comps = x.numel * max(1.0, math.log2(n)) if n > 1 else 0.0
    return Cost(comps, x.nbytes + x.numel * (_itemsize(x) + 8), None, x.dtype)


def topk(args):
    """topk(self, k, dim, largest, sorted): one comparison per element; k values and indices per slice."""
    x = _tensor(args, 0)
    k, dim = _value(args, 1), _value(args, 2, -1)
    if not isinstance(k, int):
        raise Unsized("k not recorded")
    n = x.shape[dim % len(x.shape)] if x.shape else 1
    out = x.numel // max(n, 1) * k
    return Cost(float(x.numel), x.nbytes + out * (_itemsize(x) + 8), None, x.dtype)


def one_hot(args):
    x = _tensor(args, 0)
    classes = _value(args, 1)
    if not isinstance(classes, int) or classes < 0:
        raise Unsized("number of classes inferred from the data")
    return Cost(0.0, x.nbytes + x.numel * classes * 8, None, x.dtype)


def loss(per_element: float):
    """l1/mse/smooth_l1/huber(self, target, reduction): reduction 0 keeps the shape, else a scalar."""
    def cost(args):
        x, y = _tensor(args, 0), _tensor(args, 1)
        reduction = _value(args, 2)
        if not isinstance(reduction, int):
            raise Unsized("reduction mode not recorded")
        out = x.numel if reduction == 0 else 1
        return Cost(per_element * x.numel, x.nbytes + y.nbytes + out * _itemsize(x), None, x.dtype)
    return cost


def sparse(args):
    raise Unsized("a sparse operand: the work depends on its number of non-zeros, which is not recorded")


def data_dependent(args):
    raise Unsized("output size depends on the data (nonzero, masked_select, unique, nms)")


# ---- the table ----------------------------------------------------------------------------------
# Per-element FLOPs of element-wise ops (documented convention, docs/guide/roofline.md).
_EW = {
    1: r"add|add_|sub|sub_|rsub|mul|mul_|div|div_|true_divide_?|floor_divide_?|neg|neg_|abs|abs_|"
       r"reciprocal_?|sign|sgn|floor|ceil|round|trunc|clamp\w*|clip_?|maximum|minimum|fmax|fmin|"
       r"logical_\w+|bitwise_\w+|__\w+__|where|_s_where|relu_?|relu6_?|"
       r"threshold_?|hardtanh_?|leaky_relu_?|exp_?|exp2_?|expm1_?|log_?|log2_?|log10_?|log1p_?|sqrt_?|rsqrt_?|"
       r"square_?|pow_?|sin_?|cos_?|tan_?|tanh_?|sigmoid_?|erf_?|erfinv_?|remainder_?|fmod_?|atan2_?|"
       r"logit_?|nan_to_num_?|heaviside_?|hypot_?|frac_?|masked_fill|"
       r"triu_?|tril_?|softplus|elu_?|selu_?|celu_?|silu_?|hardsigmoid_?|hardswish_?",
    2: r"addcmul_?|addcdiv_?|lerp_?|xlogy_?|gelu_?|mish_?|log_sigmoid|logaddexp2?|copysign_?|glu",
}


def _table() -> list[tuple[re.Pattern, Callable | None]]:
    """(pattern, cost function); ``None`` marks a transparent op (its own cost is zero)."""
    t: list[tuple[str, Callable | None]] = [
        # transparent: views, allocation, metadata, and wrappers whose work is in the ops they call
        (r"aten::(view|_view\w*|view_as|reshape|reshape_as|_reshape_alias|_unsafe_view|flatten|unflatten|"
         r"squeeze_?|unsqueeze_?|permute|transpose_?|t_?|expand|expand_as|broadcast_to|broadcast_tensors|"
         r"as_strided_?|narrow|slice|select|unbind|split|split_with_sizes|tensor_split|chunk|unsafe_split\w*|"
         r"unsafe_chunk|diagonal|alias|detach_?|lift_fresh|lift|resolve_conj|resolve_neg|_conj|conj|movedim|"
         r"moveaxis|swapaxes|real|imag|view_as_real|view_as_complex|unfold|_shape_as_tensor|"
         r"empty|empty_like|empty_strided|new_empty\w*|_empty\w*|resize_|resize_as_|_resize_output_?|set_|"
         r"size|stride|numel|dim|is_\w+|_is_\w+|_has_\w+|_nnpack_available|_use_cudnn\w*|result_type|"
         r"_assert\w*|_functional_assert\w*|record_stream|output_nr|_version|requires_grad_|retain_grad|"
         r"linear|matmul|einsum|tensordot|conv_tbc|_convolution_mode|"
         r"to|_to_copy|clone|contiguous|_to_dense|to_dense|type_as|_cast_\w+|"
         r"zeros|zeros_like|ones|ones_like|full|full_like|new_zeros|new_ones|new_full|scalar_tensor|"
         r"rand|rand_like|randn|randn_like|randint|randint_like|normal|tensor|"
         r"layer_norm|batch_norm|_batch_norm_impl_index|group_norm|instance_norm|dropout|feature_dropout|"
         r"softmax|log_softmax|max_pool\dd|adaptive_max_pool\dd|adaptive_avg_pool\dd|"
         r"embedding_bag|item|cpu|cuda|type|flatten_dense_tensors|meshgrid|_unsafe_index|"
         r"pad|arange|linspace|range|eye|nonzero_numpy)", None),
        (r"detach_|detach|torchvision::_assert\w*|torchvision::_cuda_version", None),
        # sparse tensors: metadata and wrapping are free; products and coalescing depend on nnz
        (r"aten::(sparse_dim|dense_dim|_dimI|_dimV|_nnz|_indices|_values|indices|values|_coalesced_|"
         r"is_coalesced|_sparse_coo_tensor_with_dims_and_tensors|_sparse_coo_tensor_unsafe|sparse_coo_tensor|"
         r"_validate_sparse_coo_tensor_args|sparse_resize_\w*)", None),
        (r"aten::(_sparse_\w+|sspaddmm|smm|hspmm|coalesce|_coalesce|to_sparse\w*|_to_sparse\w*)", sparse),
        # matrix products
        (r"aten::(mm|_mm\w*)", mm), (r"aten::(addmm_?|_addmm_activation)", addmm), (r"aten::bmm", bmm),
        (r"aten::baddbmm_?", baddbmm), (r"aten::addbmm_?", addbmm), (r"aten::mv", mv),
        (r"aten::addmv_?", lambda a: mv(a, 1)), (r"aten::(dot|vdot|inner)", dot),
        (r"aten::(outer|ger)", outer), (r"aten::addr_?", lambda a: outer(a, 1)),
        # convolutions
        (r"aten::conv[123]d", conv_nd), (r"aten::(convolution|_convolution)", convolution),
        (r"aten::conv_transpose[123]d", conv_transpose),
        # element-wise, normalisations, reductions
        (r"aten::(native_layer_norm|native_batch_norm|_native_batch_norm_legit\w*|native_group_norm|"
         r"_batch_norm_no_update|cudnn_batch_norm|miopen_batch_norm)", same_shape(5.0)),
        (r"aten::(_softmax|_log_softmax|_safe_softmax)", same_shape(5.0)),
        (r"aten::(cumsum_?|cumprod_?|_cumsum|_cumprod)", same_shape(1.0)),
        (r"aten::(native_dropout|_fused_dropout)", lambda a: dropout(a[:2] + [Arg(None, "", True)])),
        (r"aten::(normal_|uniform_|bernoulli_|random_|exponential_|geometric_|cauchy_|log_normal_)",
         unary_write(1.0)),
        (r"aten::(fill_|zero_)", unary_write(0.0)),
        (r"aten::(sum|mean|nansum|prod|amax|amin|all|any|count_nonzero)", reduction(1.0)),
        (r"aten::(std|var|std_mean|var_mean|logsumexp)", reduction(3.0)),
        (r"aten::(linalg_vector_norm|norm)", reduction(2.0)),
        (r"aten::(max|min)", reduction(1.0, index_output=True)),
        (r"aten::(argmax|argmin)", arg_reduction),
        (r"aten::(" + _EW[1] + ")", elementwise(1.0)),
        (r"aten::(" + _EW[2] + ")", elementwise(2.0)),
        (r"aten::(eq_?|ne_?|lt_?|le_?|gt_?|ge_?|isnan|isinf|isfinite|isclose)", elementwise(1.0, boolean_output=True)),
        (r"aten::(l1_loss|mse_loss)", loss(3.0)), (r"aten::(smooth_l1_loss|huber_loss)", loss(5.0)),
        # pooling, interpolation, RoI ops
        *[(rf"aten::max_pool{d}d_with_indices", pool(d, True)) for d in (1, 2, 3)],
        *[(rf"aten::(mkldnn_max_pool{d}d|quantized_max_pool{d}d)", pool(d, False)) for d in (1, 2, 3)],
        *[(rf"aten::avg_pool{d}d", pool(d, False, avg=True)) for d in (1, 2, 3)],
        (r"aten::(_adaptive_avg_pool[123]d|adaptive_avg_pool3d)", adaptive_pool(False)),
        (r"aten::adaptive_max_pool[123]d", adaptive_pool(True)),
        (r"aten::upsample_nearest[123]d", upsample(0.0)),
        (r"aten::(upsample_(bi|tri)?linear[123]d|upsample_bicubic2d)", upsample(8.0)),
        (r"aten::(grid_sampler_[23]d|grid_sampler)", grid_sampler),
        (r"aten::(_upsample_bilinear2d_aa|_upsample_bicubic2d_aa)", upsample_aa),
        (r"torchvision::roi_align", roi_align), (r"torchvision::roi_pool", roi_pool),
        (r"torchvision::nms", data_dependent),
        # embedding lookups and gathers
        (r"aten::embedding", embedding), (r"aten::_embedding_bag(_forward_only)?", embedding_bag),
        (r"aten::index_select", index_select), (r"aten::gather", gather), (r"aten::index", index),
        (r"aten::(index_put_?|_index_put_impl_)", index_put),
        (r"aten::(scatter_add_?|index_add_?)", scatter(True)), (r"aten::scatter_?", scatter(False)),
        (r"aten::masked_fill_", masked_fill),
        (r"aten::(nonzero|masked_select|unique\w*|_unique\w*|nonzero_static|argwhere)", data_dependent),
        # copies, concatenation, padding, reordering
        (r"aten::copy_", copy_), (r"aten::_local_scalar_dense", local_scalar),
        (r"aten::(cat|_cat|stack|hstack|vstack|concat|concatenate)", cat),
        (r"aten::repeat", repeat), (r"aten::constant_pad_nd", pad),
        (r"aten::(flip|roll)", reorder),
        (r"aten::(sort|argsort)", sort), (r"aten::topk", topk), (r"aten::one_hot", one_hot),
    ]
    return [(re.compile(p), f) for p, f in t]


COSTS = _table()


@lru_cache(maxsize=4096)
def entry(name: str) -> tuple[bool, Callable | None]:
    """(known, cost function): known and None means transparent; not known means no model."""
    for pattern, fn in COSTS:
        if pattern.fullmatch(name):
            return True, fn
    return False, None


def is_worker(name: str) -> bool:
    known, fn = entry(name)
    return known and fn is not None


def always_unsized(name: str) -> bool:
    """Ops whose work the recorded arguments can never give (sparse products, data-dependent
    outputs): time spent inside them is unsized time too."""
    return entry(name)[1] in (sparse, data_dependent)


# ---- parsing the recorded strings ---------------------------------------------------------------
@lru_cache(maxsize=65536)
def parse_args(shapes: str, dtypes: str, concrete: str) -> tuple[Arg, ...]:
    """Arguments by position from the three recorded strings.

    Dtypes are one field per argument (empty for None). Runs written before that (empty fields
    dropped) still line up wherever no None argument precedes a tensor, which is the common case.
    """
    try:
        shape_list = ast.literal_eval(shapes) if shapes else []
    except (ValueError, SyntaxError):
        shape_list = []
    dtype_list = dtypes.split(",") if dtypes else []
    try:
        values = json.loads(concrete) if concrete else []
    except ValueError:
        values = []
    n = max(len(shape_list), len(dtype_list), len(values))
    args = []
    for i in range(n):
        shape = shape_list[i] if i < len(shape_list) else None
        dtype = dtype_list[i].strip() if i < len(dtype_list) else ""
        value = values[i] if i < len(values) else None
        args.append(Arg(_to_tuple(shape), dtype, value))
    return tuple(args)


def _to_tuple(shape):
    if isinstance(shape, list):
        return tuple(_to_tuple(s) for s in shape)
    return shape


_MASK_INDEXING = re.compile(r"aten::(index|index_put_?|_index_put_impl_)")
_SPARSE_CALLEE = re.compile(r"aten::(_sparse_mm|_sparse_addmm|sspaddmm|_sparse_sparse_matmul|_sparse_csr_mm|"
                            r"_sparse_csr_addmm|smm|hspmm)")


def op_cost(name: str, shapes: str, dtypes: str, concrete: str = "", children: str = "") -> Cost:
    """The cost of one call; raises Unsized (with the reason) if the model cannot size it.
    ``children`` (the op's direct callees, "|"-joined) tells a boolean-mask index, which calls
    nonzero, from an integer one."""
    known, fn = entry(name)
    if not known:
        raise Unsized("no cost model for this op")
    if _MASK_INDEXING.fullmatch(name) and "aten::nonzero" in (children or "").split("|"):
        raise Unsized("boolean-mask indexing: the number of selected elements depends on the data")
    if any(_SPARSE_CALLEE.fullmatch(c) for c in (children or "").split("|") if c):
        sparse([])
    if fn is None:
        return Cost(0.0, 0.0)
    if not dtypes and shapes and shapes.replace("[", "").replace("]", "").replace(",", "").strip():
        raise Unsized("input dtypes were not recorded (a profile from a torch without input_dtypes)")
    args = list(parse_args(shapes or "", dtypes or "", concrete or ""))
    try:
        return fn(args)
    except Unsized:
        raise
    except (ValueError, TypeError, IndexError, ZeroDivisionError) as exc:
        raise Unsized(f"recorded arguments do not fit the model ({type(exc).__name__})") from None
