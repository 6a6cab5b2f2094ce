"""The tool under an outer profiler: cProfile components still measured where Python allows it
(3.10/3.11: the outer profiler is put back after each capture), else one line says why."""
from __future__ import annotations

import cProfile
import pstats
import sys

import pytest

from clirun import write_config
from nscharacterize.profiler import cprofile_backend


def _symbolic(n):
    return sum(i * i for i in range(n))


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="one sys.setprofile slot shared: Python < 3.12")
def test_outer_python_profiler_is_put_back_and_component_measured():
    calls = []

    def outer(frame, event, arg):
        calls.append(event)

    sys.setprofile(outer)
    try:
        cap = cprofile_backend.capture(_symbolic, 2000, "cpu")
        still = sys.getprofile()
        _symbolic(10)
    finally:
        sys.setprofile(None)
    assert still is outer and calls, "the outer profiler lost its hook"
    assert any(r["name"].endswith(":<genexpr>") for r in cap.rows) and cap.output == _symbolic(2000)


def test_outer_cprofile_keeps_measuring_and_inner_component_is_measured_or_explained():
    outer = cProfile.Profile()
    outer.enable()
    try:
        cap = cprofile_backend.capture(_symbolic, 2000, "cpu")
        why = cprofile_backend.conflict()
        _symbolic(3000)   # after the capture: the outer profiler must still see this
    finally:
        outer.disable()
    seen = {func for (_file, _line, func) in pstats.Stats(outer).stats}
    assert "_symbolic" in seen
    if sys.version_info >= (3, 12):
        assert why and "profiler slot" in why and cap.rows == []
    else:
        assert why is None and any(r["name"].endswith(":<genexpr>") for r in cap.rows)


def test_cli_run_under_python_m_cprofile(tmp_path):
    """`python -m cProfile -o X -m nscharacterize.cli run ...` completes, the tool's own time shows
    up in the outer profile (not all charged to Profiler.enable), and the run says what it could
    not measure, in one line, if anything."""
    import os
    import subprocess

    from clirun import ROOT, SUPPORT

    cfg = write_config(tmp_path / "demo.yaml", samples=1, repeats=1)
    out = tmp_path / "outer.prof"
    env = dict(os.environ, PYTHONPATH=str(SUPPORT))
    proc = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "nscharacterize.cli", "run",
                           str(cfg), "--out", str(tmp_path / "runs"), "--quiet"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    stats = pstats.Stats(str(out)).stats
    total = max(ct for (_cc, _nc, _tt, ct, _callers) in stats.values())
    enable = sum(tt for (_f, _l, func), (_cc, _nc, tt, _ct, _c) in stats.items() if "enable" in func
                 and "_lsprof" in func)
    assert enable < 0.5 * total, f"{enable:.1f} of {total:.1f} s charged to Profiler.enable"
    assert any(func == "write_run_report" for (_f, _l, func) in stats), "rendering is profiled too"
    notes = [ln for ln in proc.stderr.splitlines() if ln.startswith("nscharacterize: note:")]
    if sys.version_info >= (3, 12):
        assert len(notes) == 1 and "profiler slot" in notes[0]
    else:
        assert notes == []
