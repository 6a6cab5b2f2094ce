"""The category axes, in the one order every table, plot and file uses."""

# The eight operator categories of the reference study, Communication, and Other.
# Communication (collectives and point-to-point transfers between ranks: NCCL/RCCL kernels, c10d
# ops, gloo/nccl ranges) is not one of the study's eight, which characterise one process on one
# device. It is a column of its own, not a part of Data Movement, because it answers a different
# question (is a rank waiting for the others?), its kernels overlap compute on purpose, and folding
# a 30-85% share into Data Movement would hide the study's own Data Movement (copies, cat, fills).
# It is zero for single-process runs; docs/architecture.md and docs/gpu.md say more.
CATEGORIES = ("gemm", "sparse_mm", "conv", "elementwise", "regional", "embedding",
              "data_movement", "data_transform", "communication", "other")

LABELS = {"gemm": "GEMM", "sparse_mm": "Sparse MM", "conv": "Conv", "elementwise": "Element-wise",
          "regional": "Regional", "embedding": "Embedding", "data_movement": "Data Movement",
          "data_transform": "Data Transform", "communication": "Communication", "other": "Other"}

# Column headers where space is short (terminal tables).
SHORT = {"gemm": "GEMM", "sparse_mm": "SpMM", "conv": "Conv", "elementwise": "Elem", "regional": "Region",
         "embedding": "Embed", "data_movement": "DataMov", "data_transform": "DataTr", "communication": "Comm",
         "other": "Other"}

# One colour per category, the same in every figure and page.
COLORS = {"gemm": "#1f77b4", "sparse_mm": "#17becf", "conv": "#2ca02c", "elementwise": "#ff7f0e",
          "regional": "#9467bd", "embedding": "#8c564b", "data_movement": "#d62728",
          "data_transform": "#e377c2", "communication": "#bcbd22", "other": "#7f7f7f"}

# Fig. 7 of the study: what a pure-Python symbolic executor spends its time on.
PY_CATEGORIES = ("feature_query", "arithmetic", "program_control", "parsing_io", "other")

PY_LABELS = {"feature_query": "Feature query", "arithmetic": "Arithmetic",
             "program_control": "Program control", "parsing_io": "Parsing / IO", "other": "Other"}

PY_COLORS = {"feature_query": "#1f77b4", "arithmetic": "#ff7f0e", "program_control": "#2ca02c",
             "parsing_io": "#d62728", "other": "#7f7f7f"}

# How Other splits: ops a rule sends to Other on purpose, ops no rule matched, and time outside
# any op (Python, framework, idle) that the profiler saw between ops.
OTHER_SPLIT = ("ops_deliberate", "ops_unmatched", "outside_ops")

OTHER_SPLIT_LABELS = {"ops_deliberate": "Ops with an Other rule", "ops_unmatched": "Ops with no rule",
                      "outside_ops": "Outside any op"}

# CUDA views (nscharacterize/attribution/views.py). The device view adds one column to the categories: time when
# the GPU runs nothing, never mixed into Other.
GPU_IDLE = "gpu_idle"
DEVICE_CATEGORIES = CATEGORIES + (GPU_IDLE,)
DEVICE_LABELS = {**LABELS, GPU_IDLE: "GPU idle"}

# The bound view's three parts: the GPU runs a kernel (device-bound time), the GPU is idle while a
# host op runs (host-bound, op), the GPU is idle outside any op (host-bound, Python/framework).
BOUND_SPLIT = ("device_busy", "host_ops", "python_framework")
BOUND_SPLIT_LABELS = {"device_busy": "GPU busy", "host_ops": "GPU idle, host op",
                      "python_framework": "GPU idle, Python/framework"}
COLORS[GPU_IDLE] = "#d9d9d9"
