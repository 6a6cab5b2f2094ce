"""The generated reference pages (docs/reference/) match the code they are generated from."""
from __future__ import annotations

import subprocess
import sys

from clirun import ROOT


def test_reference_pages_match_the_code():
    proc = subprocess.run([sys.executable, "scripts/gen_reference.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout


def test_reference_names_every_command_key_and_file():
    """Spot checks that the generator reads the real sources, not a stale copy of them."""
    from nscharacterize.cli import build_parser
    from nscharacterize.config import Config

    cli = (ROOT / "docs" / "reference" / "cli.md").read_text()
    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    for name in commands:
        assert f"## `nscharacterize {name}`" in cli
    config = (ROOT / "docs" / "reference" / "config.md").read_text()
    for key in Config.model_fields:
        assert f"| `{key}` |" in config
    rundir = (ROOT / "docs" / "reference" / "run-directory.md").read_text()
    for column in ("name", "ancestors", "children", "self_cpu_us", "wall_s", "time_s", "addup_error_s"):
        assert f"| `{column}` |" in rundir
