"""Every repository path cited in the docs and in code comments exists (scripts/check_paths.py)."""
from __future__ import annotations

import subprocess
import sys

from clirun import ROOT


def test_cited_paths_exist():
    proc = subprocess.run([sys.executable, "scripts/check_paths.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_missing_path_is_reported(tmp_path):
    """The checker finds a stale citation: a copy of it run on a tree with one bad reference."""
    tree = tmp_path / "repo"
    (tree / "scripts").mkdir(parents=True)
    (tree / "docs").mkdir()
    (tree / "scripts" / "check_paths.py").write_text((ROOT / "scripts" / "check_paths.py").read_text())
    (tree / "docs" / "page.md").write_text("See `docs/page.md` and `configs/gone.yaml`, `profiler/moved.py`; "
                                           "`docs/results/PAGE.md` is a placeholder.\n")
    (tree / "scripts" / "tool.py").write_text('"""Reads configs/*.yaml."""\nX = 1  # see docs/page.md\n')
    proc = subprocess.run([sys.executable, "scripts/check_paths.py"], cwd=tree, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    ours = sorted(line for line in proc.stdout.splitlines() if line.startswith(("docs/page.md", "scripts/tool.py")))
    assert ours == ["docs/page.md:1: configs/gone.yaml",
                    "docs/page.md:1: profiler/moved.py (as nscharacterize/profiler/moved.py)",
                    "scripts/tool.py:1: configs/*.yaml"]
