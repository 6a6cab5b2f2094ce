"""A user model that talks on stderr the way torch and real workloads do: a Python warning and a
line written by native code straight to descriptor 2. A run must keep both off the terminal and
in run.log (tests/reports/test_html_report.py)."""
from __future__ import annotations

import os
import warnings

import torch

PY_WARNING = "nsc-test: a Python warning from the workload"
NATIVE_LINE = "[W nsc-test native.cpp:1] a line written to descriptor 2"


class Noisy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(8, 4)

    def forward(self, x):
        warnings.warn(PY_WARNING, UserWarning, stacklevel=1)
        os.write(2, (NATIVE_LINE + "\n").encode())
        return self.linear(x).relu()


def noisy():
    return Noisy().eval(), lambda i: torch.randn(4, 8, generator=torch.Generator().manual_seed(i))
