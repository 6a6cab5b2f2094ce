"""nscharacterize: where the time of a neuro-symbolic model goes, by operator category, and why.

The public Python API (nscharacterize/api.py, example in docs/api.md)::

    import nscharacterize as nsc
    run = nsc.run("configs/quickstart.yaml", samples=2)
    run.breakdown            # a DataFrame, as in breakdown.csv

The names are imported on first use, so that ``import nscharacterize`` (and the CLI, which must
set the profiler's environment before torch loads) stays cheap.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Run", "Report", "run", "run_model", "report", "import_traces", "compare", "baseline_gate"]

if TYPE_CHECKING:
    from nscharacterize.api import Report, Run, baseline_gate, compare, import_traces, report, run, run_model


def __getattr__(name: str) -> Any:
    if name in __all__:
        from nscharacterize import api

        return getattr(api, name)
    raise AttributeError(f"module 'nscharacterize' has no attribute {name!r}")
