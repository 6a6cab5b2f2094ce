"""Shared fixtures; the helpers they use live in tests/support/clirun.py."""
from __future__ import annotations

from pathlib import Path

import pytest
from clirun import printed_dir, run_cli, write_config


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """One real CLI run of the demo workload, shared by the tests that only read its outputs."""
    tmp = tmp_path_factory.mktemp("demo")
    cfg = write_config(tmp / "demo.yaml")
    proc = run_cli("run", str(cfg), "--out", str(tmp / "runs"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    return printed_dir(proc)
