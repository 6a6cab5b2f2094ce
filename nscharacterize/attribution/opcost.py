"""FLOPs and bytes of one op from its recorded shapes, dtypes and sizing arguments.

One table (``WORKERS``, ``TRANSPARENT``) maps op names to cost functions, fvcore-style. Each function sees the op's
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
# Exact op names, written ``aten::`` less; ``name[_]`` stands for the op and its in-place form
# (``add[_]`` is ``aten::add`` and ``aten::add_``). Patterns are kept for the families of
# transparent metadata ops whose members come and go between torch versions (``is_\w+``); a worker
# is always named exactly, so a pattern can never shadow it. tests/attribution/test_opcost.py
# checks the whole table against every op registered in the installed torch: no name may match two
# entries of different kinds.
def _names(text: str, prefix: str = "aten::") -> list[str]:
    out = []
    for word in text.split():
        base = word.removesuffix("[_]")
        out += [prefix + base] + ([prefix + base + "_"] if word.endswith("[_]") else [])
    return out


TRANSPARENT = _names("""
    view view_as reshape reshape_as _reshape_alias _unsafe_view flatten unflatten squeeze[_] unsqueeze[_]
    permute transpose[_] t[_] expand expand_as broadcast_to broadcast_tensors as_strided[_] narrow slice
    select unbind split split_with_sizes tensor_split chunk unsafe_chunk diagonal alias detach[_] lift_fresh
    lift resolve_conj resolve_neg _conj conj movedim moveaxis swapaxes real imag view_as_real
    view_as_complex unfold _shape_as_tensor
    empty empty_like empty_strided resize_ resize_as_ _resize_output[_] set_
    size stride numel dim _nnpack_available result_type record_stream output_nr _version requires_grad_
    retain_grad
    linear matmul einsum tensordot conv_tbc _convolution_mode
    to _to_copy clone contiguous _to_dense to_dense type_as
    zeros zeros_like ones ones_like full full_like new_zeros new_ones new_full scalar_tensor
    rand rand_like randn randn_like randint randint_like normal tensor
    layer_norm batch_norm _batch_norm_impl_index group_norm instance_norm dropout feature_dropout
    softmax log_softmax max_pool1d max_pool2d max_pool3d adaptive_max_pool1d
    adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d
    embedding_bag item cpu cuda type flatten_dense_tensors meshgrid _unsafe_index
    pad arange linspace range eye nonzero_numpy
    sparse_dim dense_dim _dimI _dimV _nnz _indices _values indices values _coalesced_
    _sparse_coo_tensor_with_dims_and_tensors _sparse_coo_tensor_unsafe sparse_coo_tensor
    _validate_sparse_coo_tensor_args
""") + _names("detach detach_ torchvision::_cuda_version", prefix="")
# The wrappers above call their workers (``max_pool2d`` calls ``max_pool2d_with_indices``,
# ``adaptive_avg_pool2d`` calls ``_adaptive_avg_pool2d``, ``adaptive_max_pool1d`` calls
# ``adaptive_max_pool2d``), which are counted.
TRANSPARENT_FAMILIES = [re.compile(p) for p in (
    r"aten::(_view\w*|unsafe_split\w*|new_empty\w*|_empty\w*|is_\w+|_is_\w+|_has_\w+|_use_cudnn\w*)",
    r"aten::(_assert\w*|_functional_assert\w*|_cast_\w+|sparse_resize_\w*)",
    r"torchvision::_assert\w*",
)]

# Per-element FLOPs of element-wise ops (documented convention, docs/guide/roofline.md).
_EW = {
    1: """add[_] sub[_] rsub mul[_] div[_] true_divide[_] floor_divide[_] neg[_] abs[_] reciprocal[_] sign sgn
          floor ceil round trunc clamp[_] clamp_max[_] clamp_min[_] clip[_] maximum minimum fmax fmin
          logical_and[_] logical_not[_] logical_or[_] logical_xor[_]
          bitwise_and[_] bitwise_left_shift[_] bitwise_not[_] bitwise_or[_] bitwise_right_shift[_] bitwise_xor[_]
          __and__ __iand__ __ilshift__ __ior__ __irshift__ __ixor__ __lshift__ __or__ __rshift__ __xor__
          where _s_where relu[_] relu6[_] threshold[_] hardtanh[_] leaky_relu[_] exp[_] exp2[_] expm1[_] log[_]
          log2[_] log10[_] log1p[_] sqrt[_] rsqrt[_] square[_] pow[_] sin[_] cos[_] tan[_] tanh[_] sigmoid[_]
          erf[_] erfinv[_] remainder[_] fmod[_] atan2[_] logit[_] nan_to_num[_] heaviside[_] hypot[_] frac[_]
          masked_fill triu[_] tril[_] softplus elu[_] selu[_] celu[_] silu[_] hardsigmoid[_] hardswish[_]""",
    2: """addcmul[_] addcdiv[_] lerp[_] xlogy[_] gelu[_] mish[_] log_sigmoid logaddexp logaddexp2 copysign[_]
          glu""",
}


def _workers() -> dict[str, Callable]:
    """Op name -> cost function."""
    rows: list[tuple[str, Callable]] = [
        # sparse tensors: products and coalescing depend on nnz, which no argument records
        ("""sspaddmm smm hspmm coalesce _coalesce _sparse_addmm _sparse_broadcast_to _sparse_broadcast_to_copy
            _sparse_bsc_tensor_unsafe _sparse_bsr_tensor_unsafe _sparse_compressed_tensor_unsafe
            _sparse_compressed_tensor_with_dims _sparse_coo_tensor_with_dims _sparse_csc_tensor_unsafe
            _sparse_csr_prod _sparse_csr_sum _sparse_csr_tensor_unsafe _sparse_log_softmax
            _sparse_log_softmax_backward_data _sparse_mask_projection _sparse_mm _sparse_mm_reduce_impl
            _sparse_mm_reduce_impl_backward _sparse_semi_structured_addmm _sparse_semi_structured_apply
            _sparse_semi_structured_apply_dense _sparse_semi_structured_linear _sparse_semi_structured_mm
            _sparse_semi_structured_tile _sparse_softmax _sparse_softmax_backward_data _sparse_sparse_matmul
            _sparse_sum _sparse_sum_backward _sparse_csr_mm _sparse_csr_addmm
            to_sparse to_sparse_bsc to_sparse_bsr to_sparse_csc to_sparse_csr
            _to_sparse _to_sparse_bsc _to_sparse_bsr _to_sparse_csc _to_sparse_csr _to_sparse_semi_structured""",
         sparse),
        # matrix products
        ("mm", mm), ("addmm[_] _addmm_activation", addmm), ("bmm", bmm), ("baddbmm[_]", baddbmm),
        ("addbmm[_]", addbmm), ("mv", mv), ("addmv[_]", lambda a: mv(a, 1)), ("dot vdot inner", dot),
        ("outer ger", outer), ("addr[_]", lambda a: outer(a, 1)),
        # convolutions
        ("conv1d conv2d conv3d", conv_nd), ("convolution _convolution", convolution),
        ("conv_transpose1d conv_transpose2d conv_transpose3d", conv_transpose),
        # element-wise, normalisations, reductions
        ("""native_layer_norm native_batch_norm _native_batch_norm_legit _native_batch_norm_legit_functional
            _native_batch_norm_legit_no_training native_group_norm _batch_norm_no_update cudnn_batch_norm
            miopen_batch_norm""", same_shape(5.0)),
        ("_softmax _log_softmax _safe_softmax", same_shape(5.0)),
        ("cumsum[_] cumprod[_] _cumsum _cumprod", same_shape(1.0)),
        ("native_dropout _fused_dropout", lambda a: dropout(a[:2] + [Arg(None, "", True)])),
        ("normal_ uniform_ bernoulli_ random_ exponential_ geometric_ cauchy_ log_normal_", unary_write(1.0)),
        ("fill_ zero_", unary_write(0.0)),
        ("sum mean nansum prod amax amin all any count_nonzero", reduction(1.0)),
        ("std var std_mean var_mean logsumexp", reduction(3.0)),
        ("linalg_vector_norm norm", reduction(2.0)),
        ("max min", reduction(1.0, index_output=True)),
        ("argmax argmin", arg_reduction),
        (_EW[1], elementwise(1.0)),
        (_EW[2], elementwise(2.0)),
        ("eq[_] ne[_] lt[_] le[_] gt[_] ge[_] isnan isinf isfinite isclose", elementwise(1.0, boolean_output=True)),
        ("l1_loss mse_loss", loss(3.0)), ("smooth_l1_loss huber_loss", loss(5.0)),
        # pooling, interpolation
        *[(f"max_pool{d}d_with_indices", pool(d, True)) for d in (1, 2, 3)],
        *[(f"mkldnn_max_pool{d}d quantized_max_pool{d}d", pool(d, False)) for d in (1, 2, 3)],
        *[(f"avg_pool{d}d", pool(d, False, avg=True)) for d in (1, 2, 3)],
        ("_adaptive_avg_pool2d _adaptive_avg_pool3d", adaptive_pool(False)),
        ("adaptive_max_pool2d adaptive_max_pool3d", adaptive_pool(True)),
        ("upsample_nearest1d upsample_nearest2d upsample_nearest3d", upsample(0.0)),
        ("upsample_linear1d upsample_bilinear2d upsample_trilinear3d upsample_bicubic2d", upsample(8.0)),
        ("grid_sampler_2d grid_sampler_3d grid_sampler", grid_sampler),
        ("_upsample_bilinear2d_aa _upsample_bicubic2d_aa", upsample_aa),
        # embedding lookups and gathers
        ("embedding", embedding), ("_embedding_bag _embedding_bag_forward_only", embedding_bag),
        ("index_select", index_select), ("gather", gather), ("index", index),
        ("index_put[_] _index_put_impl_", index_put),
        ("scatter_add[_] index_add[_]", scatter(True)), ("scatter[_]", scatter(False)),
        ("masked_fill_", masked_fill),
        ("""nonzero masked_select unique_consecutive unique_dim unique_dim_consecutive _unique _unique2
            nonzero_static argwhere""", data_dependent),
        # copies, concatenation, padding, reordering
        ("copy_", copy_), ("_local_scalar_dense", local_scalar),
        ("cat _cat stack hstack vstack concat concatenate", cat),
        ("repeat", repeat), ("constant_pad_nd", pad),
        ("flip roll", reorder),
        ("sort argsort", sort), ("topk", topk), ("one_hot", one_hot),
    ]
    table: dict[str, Callable] = {}
    for text, fn in rows:
        for name in _names(text):
            if name in table:
                raise ValueError(f"{name} has two cost functions")
            table[name] = fn
    for name, fn in (("torchvision::roi_align", roi_align), ("torchvision::roi_pool", roi_pool),
                     ("torchvision::nms", data_dependent)):
        table[name] = fn
    clash = set(table) & set(TRANSPARENT)
    if clash:
        raise ValueError(f"{sorted(clash)} listed as workers and as transparent")
    return table


WORKERS = _workers()


@lru_cache(maxsize=4096)
def entry(name: str) -> tuple[bool, Callable | None]:
    """(known, cost function): known and None means transparent; not known means no model."""
    if name in WORKERS:
        return True, WORKERS[name]
    if name in _TRANSPARENT_SET or any(p.fullmatch(name) for p in TRANSPARENT_FAMILIES):
        return True, None
    return False, None


_TRANSPARENT_SET = frozenset(TRANSPARENT)


def matches(name: str) -> list[str]:
    """Every entry of the table ``name`` matches ("worker", "transparent" or a family's pattern), for
    the test that no op matches two entries of different kinds."""
    out = ["worker"] if name in WORKERS else []
    out += ["transparent"] if name in _TRANSPARENT_SET else []
    return out + [p.pattern for p in TRANSPARENT_FAMILIES if p.fullmatch(name)]


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
