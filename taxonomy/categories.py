"""The category axes, in the one order every table, plot and file uses."""

# The eight operator categories of the reference study, plus Other.
CATEGORIES = ("gemm", "sparse_mm", "conv", "elementwise", "regional", "embedding",
              "data_movement", "data_transform", "other")

LABELS = {"gemm": "GEMM", "sparse_mm": "Sparse MM", "conv": "Conv", "elementwise": "Element-wise",
          "regional": "Regional", "embedding": "Embedding", "data_movement": "Data Movement",
          "data_transform": "Data Transform", "other": "Other"}

# Fig. 7 of the study: what a pure-Python symbolic executor spends its time on.
PY_CATEGORIES = ("feature_query", "arithmetic", "program_control", "parsing_io", "other")

PY_LABELS = {"feature_query": "Feature query", "arithmetic": "Arithmetic",
             "program_control": "Program control", "parsing_io": "Parsing / IO", "other": "Other"}

# How Other splits: ops a rule sends to Other on purpose, ops no rule matched, and time outside
# any op (Python, framework, idle) that the profiler saw between ops.
OTHER_SPLIT = ("ops_deliberate", "ops_unmatched", "outside_ops")
